"""bench/appview: ingest rate through the real consumer path, and listReceipts latency at 1M rows.

    make bench-appview        (python -m bench.appview [--commits N] [--receipts N] [--backends …])

1. Ingest: a recorded stream of `--commits` #commit frames (receipts, jobs, deletes; see
   bench/_appview_frames.py) is replayed by a websocket server in a separate process; the real
   SourceIngestor decodes (FirehoseConsumer), validates (lexicon + ownership), and stores each
   change with its feed row, rollups and cursor. Reported: events/s from connect until the
   stored cursor reaches the last seq.
2. Queries: `--receipts` receipts across 1,000 providers are bulk-loaded into the receipts
   table (sqlite3 executemany / PostgreSQL COPY, indexes in place), then `listReceipts?provider=`
   with limit 50 is called through the real HTTP stack (httpx → uvicorn → starlette → SQL),
   sequentially, and timed per request (p50/p99), plus the store-level query alone.

PostgreSQL is a durable throwaway cluster on disk (fsync on), or $COCORE_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import asyncio
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select
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
from services.appview.db import receipts, sources
from services.appview.events import Events
from services.appview.fetch import RecordFetcher
from services.appview.http import build_app
from services.appview.httpserver import serve_http
from services.appview.ingest import IngestDeps, SourceIngestor
from services.appview.queries import Queries
from services.appview.read import RecordReader
from services.appview.server import MIGRATIONS, utc_now
from services.appview.validate import RecordValidator
from services.appview.verification import Verifier
from services.appview.write import StoreWriter
from tests.services.appview.chain import chain

REPO = Path(__file__).resolve().parent.parent
FRAMES_DIR = REPO / "var" / "bench"


# ---------------------------------------------------------------- 1. ingest


def recorded_stream(n: int) -> Path:
    path = FRAMES_DIR / f"appview-frames-{n}.bin"
    if not path.exists():
        started = time.perf_counter()
        frames.save(frames.synthesise(n), path)
        print(f"recorded {n:,} commits to {path} in {time.perf_counter() - started:.1f} s")
    return path


async def bench_ingest(db_url: str, stream: Path, n: int) -> float:
    await upgrade(db_url, MIGRATIONS)
    server = subprocess.Popen(
        [sys.executable, "-m", "bench._appview_frames", str(stream)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().strip().removeprefix("port="))
        async with Database.from_url(db_url) as db:
            deps = IngestDeps(db, StoreWriter(db, utc_now), RecordValidator(), Events(), utc_now)
            source = f"http://127.0.0.1:{port}"
            ingestor = SourceIngestor(
                source, deps, on_applied=lambda _: None, marker_interval_s=0.2
            )
            started = time.perf_counter()
            task = asyncio.create_task(ingestor.run())
            try:
                while await _cursor(db, source) != n:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return n / elapsed
    finally:
        server.terminate()
        server.wait(10)


async def _cursor(db: Database, source: str) -> int | None:
    async with db.session() as s:
        return (await s.execute(select(sources.c.cursor).where(sources.c.name == source))).scalar()


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
        await conn.execute("ANALYZE")
        await conn.close()
    return time.perf_counter() - started


class _ServerTimes(Events):
    """Keeps each XRPC handler's own duration (what the service's histogram observes)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def xrpc_request(self, method: str, status: int, seconds: float) -> None:
        super().xrpc_request(method, status, seconds)
        self.seconds.append(seconds)


async def bench_queries(db_url: str, providers: list[str], requests: int) -> dict[str, float]:
    async with Database.from_url(db_url) as db, IdentityResolver() as resolver:
        reader = RecordReader(db)
        aggregates = Aggregates(db, utc_now)
        verifier = Verifier(reader, RecordFetcher(reader, resolver), resolver)
        queries = Queries(
            reader, aggregates, AccountQueries(db, reader, aggregates, utc_now), verifier
        )
        server_times = _ServerTimes()
        http_server = await serve_http(build_app(queries, server_times, _ok), "127.0.0.1", 0)
        rng = random.Random(7)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_server.port}") as client:
                http = await _timed(requests, lambda: _http_call(client, rng.choice(providers)))
                handler = server_times.seconds[-requests:]
            store = await _timed(requests, lambda: _store_call(reader, rng.choice(providers)))
        finally:
            await http_server.stop()
    return {
        "http_p50": _pct(http, 50),
        "http_p99": _pct(http, 99),
        "handler_p50": _pct(handler, 50),
        "handler_p99": _pct(handler, 99),
        "store_p50": _pct(store, 50),
        "store_p99": _pct(store, 99),
    }


async def _ok() -> bool:
    return True


async def _http_call(client: httpx.AsyncClient, provider: str) -> None:
    r = await client.get(
        "/xrpc/dev.cocore.compute.listReceipts", params={"provider": provider, "limit": 50}
    )
    assert r.status_code == 200 and r.content.count(b'"collection":') == 50


async def _store_call(reader: RecordReader, provider: str) -> None:
    page = await reader.page(ids.COMPUTE_RECEIPT, [receipts.c.repo == provider], 50, None)
    assert len(page.records) == 50


async def _timed(n: int, call: Any) -> list[float]:
    for _ in range(min(100, n)):
        await call()  # warm the pool, the statement cache and the page cache
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


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
    cluster = None if given else DurableCluster.start()
    admin = given or (cluster.admin_url if cluster else "")
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
        if cluster is not None:
            cluster.stop()


async def run(args: argparse.Namespace) -> None:
    stream = recorded_stream(args.commits)
    providers = [frames._did("prov", i) for i in range(1000)]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"; load average {os.getloadavg()[0]:.2f} at start (shared with other work)"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-appview-", dir="/var/tmp") as tmp:
        for backend in args.backends.split(","):
            async with databases(backend, Path(tmp)) as fresh:
                url = fresh() if backend == "sqlite" else await fresh()
                rate = await bench_ingest(url, stream, args.commits)
                print(f"{backend}: ingest {rate:,.0f} events/s over {args.commits:,} commits")
                url = fresh() if backend == "sqlite" else await fresh()
                load_s = await bulk_load(url, args.receipts, providers)
                print(f"{backend}: bulk-loaded {args.receipts:,} receipts in {load_s:.1f} s")
                q = await bench_queries(url, providers, args.requests)
                rows.append((backend, rate, q))
    print()
    print(
        "| backend | ingest events/s | listReceipts p50 / p99 ms: client round trip | handler "
        "| store query |"
    )
    print("|---|---|---|---|---|")
    for backend, rate, q in rows:
        print(
            f"| {backend} | {rate:,.0f} | {q['http_p50']:.2f} / {q['http_p99']:.2f} | "
            f"{q['handler_p50']:.2f} / {q['handler_p99']:.2f} | "
            f"{q['store_p50']:.2f} / {q['store_p99']:.2f} |"
        )
    print(
        f"\n{args.receipts:,} receipts over 1,000 providers, limit 50, {args.requests:,} "
        f"sequential requests; load average {os.getloadavg()[0]:.2f} at the end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
