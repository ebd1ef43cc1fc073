"""bench/appview: ingest rate through the real consumer path, and listReceipts latency at 1M rows.

    make bench-appview        (python -m bench.appview [--commits N] [--receipts N] [--backends …]
                               [--ingest-only] [--in-process] [--relay])

1. Ingest: a recorded stream of `--commits` #commit frames (receipts, jobs, deletes; see
   bench/_appview_frames.py) is replayed by a websocket server in a separate process; the real
   SourceIngestor decodes (FirehoseConsumer), validates (lexicon + ownership), and stores each
   change with its feed row, rollups and cursor — with the front (read, decode, validate) in
   a child process as the service runs it on a multi-core host (`--in-process`: all in one).
   Every commit's ops are proven against its signed tree. The replay server plays the PDS
   hosting the repos, so their signatures need no check (`--relay`: it plays a relay, and
   every commit's signature is checked against the repo's key).
   Reported: events/s from connect until the committed cursor reaches the last seq, and CPU
   per event of the serving process (its event loop, its driver threads) and of the worker.
2. Queries: `--receipts` receipts across 1,000 providers are bulk-loaded into the receipts
   table (sqlite3 executemany / PostgreSQL COPY, indexes in place), then `listReceipts?provider=`
   with limit 50 is called through the real HTTP stack (client → uvicorn → starlette → SQL)
   by clients in processes of their own (bench/_appview_client.py, as a real client is: httpx,
   and a minimal HTTP/1.1 client without a library's own cost, in turn), sequentially,
   timed per request (p50/p99) at each client and in the handler, plus the
   store-level query alone: first quiet, then while the same process ingests the recorded
   stream into the same database ("ingesting").

PostgreSQL is a durable throwaway cluster on disk (fsync on), or $COCORE_BENCH_POSTGRES_URL.
The machine is shared: the load average is printed with every number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from sqlalchemy.engine import make_url

from bench import _appview_frames as frames
from bench._pg import DurableCluster
from cocore.atproto import IdentityResolver
from cocore.canonical import canonicalize
from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.storage import Database, sqlite_url, upgrade
from cocore.storage.urls import plain_postgres_dsn
from cocore.syntax import tid_from_parts
from services.appview.accounts import AccountQueries
from services.appview.aggregates import Aggregates
from services.appview.driver import LoopReads, reads_database, tune
from services.appview.events import Events
from services.appview.fetch import RecordFetcher
from services.appview.http import build_app
from services.appview.httpserver import serve_http
from services.appview.ingest import IngestDeps, SourceIngestor
from services.appview.queries import Queries
from services.appview.read import RecordReader
from services.appview.server import MIGRATIONS, settle_gc, utc_now
from services.appview.validate import RecordValidator
from services.appview.verification import Verifier
from services.appview.write import StoreWriter
from tests.services.appview.chain import chain
from tests.services.appview.harness import CommittedCursor

REPO = Path(__file__).resolve().parent.parent
FRAMES_DIR = REPO / "var" / "bench"


# ---------------------------------------------------------------- 1. ingest


def recorded_stream(n: int) -> Path:
    path = FRAMES_DIR / f"appview-frames-signed-{n}.bin"
    if not path.exists():
        started = time.perf_counter()
        frames.save(frames.synthesise(n), path)
        print(f"recorded {n:,} commits to {path} in {time.perf_counter() - started:.1f} s")
    return path


@dataclass
class Replay:
    """An ingestor fed by the recorded stream (served from a separate process)."""

    committed: CommittedCursor
    task: asyncio.Task[None]
    server_pid: int

    def cpu_s(self) -> tuple[float, float, float, float]:
        """CPU seconds so far of this process, of its event loop thread alone (the rest is
        driver threads: aiosqlite's), of its ingest worker children (not the server), and of
        the PostgreSQL server's processes (0 on SQLite)."""
        postgres = _children_cpu_s(POSTMASTER[0]) if POSTMASTER else 0.0
        return (time.process_time(), time.thread_time(),
                _children_cpu_s(os.getpid(), exclude=self.server_pid), postgres)  # fmt: skip

    def cursor(self) -> int:
        if self.task.done():
            self.task.result()  # surface a failure
        return self.committed.cursor

    async def reaches(self, seq: int) -> None:
        while self.cursor() < seq:
            self.committed.moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.committed.moved.wait(), 1.0)


WORKER = (os.cpu_count() or 1) > 1  # the service's default (COCORE_APPVIEW_INGEST_WORKERS)
FROM_PDS = True  # the replay plays the repos' PDS (False: a relay; `--relay`)


@asynccontextmanager
async def replaying(db: Database, stream: Path) -> AsyncIterator[Replay]:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench._appview_frames", str(stream)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().strip().removeprefix("port="))
        committed = CommittedCursor()
        source = f"http://127.0.0.1:{port}"  # also the directory of the repos' DID documents
        deps = IngestDeps(db, StoreWriter(db, utc_now), RecordValidator(), committed, utc_now,
                          plc_url=source)  # fmt: skip
        ingestor = SourceIngestor(
            source,
            deps,
            on_applied=lambda _: None,
            from_pds=FROM_PDS,
            worker=WORKER,
            marker_interval_s=0.2,
        )
        task = asyncio.create_task(ingestor.run())
        try:
            yield Replay(committed, task, server.pid)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        server.terminate()
        server.wait(10)


async def bench_ingest(db_url: str, stream: Path, n: int) -> tuple[float, list[float]]:
    """(events/s, CPU µs per event: serving process, its event loop, the ingest worker, the
    PostgreSQL server)."""
    await upgrade(db_url, MIGRATIONS)
    async with Database.from_url(db_url) as db, replaying(tuned(db), stream) as replay:
        started, cpu = time.perf_counter(), replay.cpu_s()
        await replay.reaches(n)
        elapsed, cpu_end = time.perf_counter() - started, replay.cpu_s()
    return n / elapsed, [(b - a) / n * 1e6 for a, b in zip(cpu, cpu_end, strict=True)]


# A server sized for an index of millions of rows, as production would size it (the defaults
# are for a laptop: 128 MB of shared buffers, a checkpoint every 1 GB of WAL — each followed by
# full-page images of every page touched again). Durability settings stay at their defaults.
PG_SETTINGS = ("shared_buffers=2GB", "max_wal_size=8GB", "checkpoint_timeout=30min",
               "wal_buffers=64MB")  # fmt: skip
POSTMASTER: list[int] = []  # the bench cluster's postmaster, while it runs


def _children_cpu_s(parent: int, exclude: int = 0) -> float:
    """utime + stime of `parent`'s live children (Linux /proc), `exclude` left out."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        pid = int(stat.parent.name)
        if int(fields[1]) == parent and pid != exclude:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# ---------------------------------------------------------------- 2. queries


def _receipt_rows(n: int, providers: list[str]) -> Iterator[tuple[Any, ...]]:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    c = chain(
        provider=providers[0],
        requester=providers[1],
        exchange=providers[1],
        provider_key=SigningKey.generate(),
        exchange_key=SigningKey.generate(),
        now=now,
    )
    body = canonicalize(c.receipt.value)
    base_us = int(now.timestamp() * 1_000_000)
    for i in range(1, n + 1):
        provider, requester = providers[i % len(providers)], providers[(i * 7) % len(providers)]
        rkey = str(tid_from_parts(base_us + i, 1))
        done = now + timedelta(milliseconds=i)
        yield (
            i,
            f"at://{provider}/{ids.COMPUTE_RECEIPT}/{rkey}",
            c.receipt.cid,
            provider,
            rkey,
            rkey,
            done,
            requester,
            c.job.uri,
            c.attestation.uri,
            "SmolLM2-135M-Instruct",
            done - timedelta(seconds=2),
            done,
            2000,
            100,
            "USD",
            12,
            30,
            False,
            body.replace(providers[0].encode(), provider.encode()),
        )


COLUMNS = (
    "id",
    "uri",
    "cid",
    "repo",
    "rkey",
    "rev",
    "indexed_at",
    "requester",
    "job_uri",
    "attestation_uri",
    "model",
    "started_at",
    "completed_at",
    "latency_ms",
    "price_amount",
    "price_currency",
    "tokens_in",
    "tokens_out",
    "pro_bono",
    "body",
)


def _sqlite_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def bulk_load(db_url: str, n: int, providers: list[str]) -> float:
    await upgrade(db_url, MIGRATIONS)
    started = time.perf_counter()
    url = make_url(db_url)
    if url.drivername.startswith("sqlite"):
        conn = sqlite3.connect(str(url.database))
        conn.execute("PRAGMA journal_mode=WAL")
        sql = f"INSERT INTO receipts ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
        rows = _receipt_rows(n, providers)
        while chunk := [
            tuple(_sqlite_time(v) for v in r) for _, r in zip(range(100_000), rows, strict=False)
        ]:
            conn.executemany(sql, chunk)
            conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    else:
        conn = await asyncpg.connect(plain_postgres_dsn(db_url))
        await conn.copy_records_to_table(
            "receipts", records=_receipt_rows(n, providers), columns=list(COLUMNS)
        )
        # COPY wrote the ids itself: move the sequence past them for the rows ingested later.
        sequence = "pg_get_serial_sequence('receipts', 'id')"
        await conn.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM receipts))")
        await conn.execute("VACUUM ANALYZE receipts")  # as autovacuum would, before timing
        elapsed = time.perf_counter() - started
        await conn.execute("CHECKPOINT")
        await conn.close()
        return _settled(elapsed)
    return _settled(time.perf_counter() - started)


def _settled(elapsed: float) -> float:
    """`elapsed`, once the gigabyte just written has reached the disk: otherwise the kernel
    writes it back during the "quiet" measurement that follows."""
    os.sync()
    return elapsed


class _ServerTimes(Events):
    """Keeps each XRPC handler's own duration (what the service's histogram observes)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def xrpc_request(self, method: str, status: int, seconds: float) -> None:
        super().xrpc_request(method, status, seconds)
        self.seconds.append(seconds)


async def bench_queries(
    db_url: str, providers: list[str], requests: int, stream: Path, commits: int, *, page: int
) -> dict[str, dict[str, float]]:
    """listReceipts latency, quiet and then while this process also ingests the stream."""
    out = {}
    async with (
        Database.from_url(db_url) as db,
        reads_database(tuned(db), db_url) as reads,
        IdentityResolver() as resolver,
    ):
        reader = RecordReader(reads)
        aggregates = Aggregates(db, utc_now)
        verifier = Verifier(reader, RecordFetcher(reader, resolver), resolver)
        queries = Queries(
            reader, aggregates, AccountQueries(db, reader, aggregates, utc_now), verifier
        )
        server_times = _ServerTimes()
        http_server = await serve_http(build_app(queries, server_times, _ok), "127.0.0.1", 0)
        rng = random.Random(7)
        try:
            base = f"http://127.0.0.1:{http_server.port}"
            async with _Client(base, "httpx", page) as client, _Client(base, "raw", page) as raw:
                for mode in ("quiet", "ingesting"):
                    out[mode] = await _measure(
                        db, stream if mode == "ingesting" else None, requests, last_seq=commits,
                        http_calls=(client.call, raw.call),
                        store_call=lambda: _store_call(reader, rng.choice(providers), page),
                        server_times=server_times,
                    )  # fmt: skip
        finally:
            await http_server.stop()
            LoopReads.close(reads)
    return out


async def _measure(
    db: Database,
    stream: Path | None,
    requests: int,
    *,
    last_seq: int,
    http_calls: tuple[Any, Any],
    store_call: Any,
    server_times: _ServerTimes,
) -> dict[str, float]:
    """HTTP calls (httpx, then the minimal client) and a store-level call, in turn; with a
    stream, only while it is being ingested."""
    async with contextlib.AsyncExitStack() as stack:
        replay = None if stream is None else await stack.enter_async_context(replaying(db, stream))
        http_call, raw_call = http_calls
        for _ in range(100):
            await http_call()  # warm the pool, the statement cache and the page cache
            await raw_call()
            await store_call()
        http: list[float] = []
        raw: list[float] = []
        store: list[float] = []
        if replay is not None:
            await replay.reaches(1000)  # the stream is flowing
            first, started = replay.cursor(), time.perf_counter()
        lags: list[float] = []
        probe = asyncio.create_task(_loop_lag(lags))
        while len(http) < requests:
            http.append(await http_call())
            raw.append(await raw_call())
            store.append(await _time_one(store_call))
            if replay is not None and replay.cursor() >= last_seq:
                break  # only count requests served while ingest ran
        probe.cancel()
        handler = server_times.seconds[-2 * len(http) :]
        result = {
            "requests": len(http),
            "http_p50": _pct(http, 50),
            "http_p99": _pct(http, 99),
            "raw_p50": _pct(raw, 50),
            "raw_p99": _pct(raw, 99),
            "handler_p50": _pct(handler, 50),
            "handler_p99": _pct(handler, 99),
            "store_p50": _pct(store, 50),
            "store_p99": _pct(store, 99),
            "lag_p99": _pct(lags, 99),
        }
        if replay is not None:
            ingested = replay.cursor() - first
            result["ingest_rate"] = ingested / (time.perf_counter() - started)
    return result


async def _loop_lag(lags: list[float]) -> None:
    """How late a 5 ms sleep wakes: what any request waits for the event loop, on top of its
    own work (the loop runs the ingest writer's Python between its database calls)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(0.005)
        lags.append(loop.time() - started - 0.005)


async def _time_one(call: Any) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def tuned(db: Database) -> Database:
    tune(db)  # as the service's wiring does
    return db


async def _ok() -> bool:
    return True


class _Client:
    """bench/_appview_client.py in a child process, stepped one request at a time."""

    def __init__(self, base_url: str, kind: str, page: int) -> None:
        self.base_url, self.kind, self.page = base_url, kind, page
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> _Client:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._appview_client", self.base_url, "7", self.kind,
            str(self.page),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
        )  # fmt: skip
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()

    async def call(self) -> float:
        """One request; its round trip as the client measured it, in seconds."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        line = (await self.proc.stdout.readline()).decode().strip()
        if not line or line.startswith("error"):
            raise RuntimeError(f"bench client: {line or 'exited'}")
        return float(line)


async def _store_call(reader: RecordReader, provider: str, size: int) -> None:
    page = await reader.page(ids.COMPUTE_RECEIPT, {"repo": provider}, 50, None)
    assert len(page.records) >= size  # (ingest may add to a provider's receipts)


def _pct(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100)[pct - 1] * 1000 if pct < 100 else max(samples)


# ---------------------------------------------------------------- backends


@asynccontextmanager
async def databases(backend: str, work: Path) -> AsyncIterator[Any]:
    """Yields a function making a fresh database URL on this backend."""
    if backend == "sqlite":
        yield lambda: sqlite_url(work / f"{uuid.uuid4().hex}.db")
        return
    given = os.environ.get("COCORE_BENCH_POSTGRES_URL")
    cluster = None if given else DurableCluster.start(PG_SETTINGS)
    admin = given or (cluster.admin_url if cluster else "")
    if cluster is not None:
        POSTMASTER[:] = [int((cluster.data / "postmaster.pid").read_text().split()[0])]
    made: list[str] = []

    async def fresh() -> str:
        name = f"bench_{uuid.uuid4().hex}"
        conn = await asyncpg.connect(plain_postgres_dsn(admin))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        made.append(name)
        return make_url(admin).set(database=name).render_as_string(hide_password=False)

    try:
        yield fresh
    finally:
        POSTMASTER.clear()
        if cluster is not None:
            cluster.stop()


async def run(args: argparse.Namespace) -> None:
    global WORKER, FROM_PDS  # command-line switches for the whole run
    WORKER, FROM_PDS = WORKER and not args.in_process, not args.relay
    stream = recorded_stream(args.commits)
    providers = [frames.did("prov", i) for i in range(1000)]
    settle_gc()  # as the AppView's __main__ does once it has started
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"; load average {os.getloadavg()[0]:.2f} at start (shared with other work); ingest "
        f"{'front in a child process' if WORKER else 'all in one process'}; the stream comes "
        f"{'from the repos PDS' if FROM_PDS else 'from a relay: every signature checked'}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-appview-", dir="/var/tmp") as tmp:
        for backend in args.backends.split(","):
            async with databases(backend, Path(tmp)) as fresh:
                url = fresh() if backend == "sqlite" else await fresh()
                rate, (own, loop, worker, pg) = await bench_ingest(url, stream, args.commits)
                print(
                    f"{backend}: ingest {rate:,.0f} events/s over {args.commits:,} commits; CPU "
                    f"per event: serving process {own:,.0f} µs (event loop {loop:,.0f}, driver "
                    f"threads {own - loop:,.0f}), ingest worker {worker:,.0f} µs"
                    f"{f', PostgreSQL server {pg:,.0f} µs' if pg else ''}; "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
                if args.ingest_only:
                    continue
                url = fresh() if backend == "sqlite" else await fresh()
                load_s = await bulk_load(url, args.receipts, providers)
                print(f"{backend}: bulk-loaded {args.receipts:,} receipts in {load_s:.1f} s")
                page = min(50, args.receipts // len(providers))  # records a full first page holds
                q = await bench_queries(
                    url, providers, args.requests, stream, args.commits, page=page
                )
                rows.append((backend, rate, q))
    print()
    print(
        "| backend | ingest events/s | listReceipts | p50 / p99 ms: round trip, httpx client "
        "| round trip, minimal client | handler | store query | event-loop lag p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend, rate, q in rows:
        for mode, m in q.items():
            during = (
                f" (ingest {m['ingest_rate']:,.0f} events/s meanwhile)"
                if "ingest_rate" in m
                else ""
            )
            print(
                f"| {backend} | {rate:,.0f} | {mode}{during}, {m['requests']:,.0f} requests | "
                f"{m['http_p50']:.2f} / {m['http_p99']:.2f} | "
                f"{m['raw_p50']:.2f} / {m['raw_p99']:.2f} | "
                f"{m['handler_p50']:.2f} / {m['handler_p99']:.2f} | "
                f"{m['store_p50']:.2f} / {m['store_p99']:.2f} | {m['lag_p99']:.2f} |"
            )
    print(
        f"\n{args.receipts:,} receipts over 1,000 providers, limit 50, up to {args.requests:,} "
        f"sequential requests (each timed at two clients — httpx, and a minimal HTTP/1.1 "
        f"client — in the handler, and as the store query alone); 'ingesting': the same "
        f"process replays the recorded stream into the same database meanwhile; load average "
        f"{os.getloadavg()[0]:.2f} at the end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument(
        "--relay", action="store_true", help="the stream comes from a relay: check every signature"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="decode and validate in the serving process"
    )
    uvloop.run(run(parser.parse_args()))  # the event loop the AppView runs on


if __name__ == "__main__":
    main()
