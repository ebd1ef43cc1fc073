"""Wiring: the database, ingest, backfill, the feed, and the gRPC and HTTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cocore.atproto import IdentityResolver
from cocore.errors import CocoreError
from cocore.rpc import RunningServer, start_server
from cocore.startup import start_or_undo
from cocore.storage import Database, upgrade

from .accounts import AccountQueries
from .aggregates import Aggregates
from .backfill import PDS, Backfiller
from .config import AppViewConfig
from .driver import LoopReads, reads_database, tune
from .events import Events
from .feed import FeedHub
from .fetch import RecordFetcher
from .handlers import register
from .http import build_app
from .httpserver import HttpServer, serve_http
from .ingest import IngestDeps, SourceIngestor
from .items import Outcome
from .queries import Queries
from .read import RecordReader
from .validate import RecordValidator
from .verification import Verifier
from .write import StoreWriter

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def settle_gc() -> None:
    """Once started: freeze what start-up allocated. It lives as long as the process; the
    cyclic collector would otherwise rescan it on every full pass (a stall for every query
    in flight)."""
    gc.collect()
    gc.freeze()


@dataclass(eq=False)
class AppView:
    """A running AppView; `stop()` ends ingest, then the servers, then closes the database."""

    config: AppViewConfig
    db: Database
    grpc: RunningServer
    http: HttpServer
    hub: FeedHub
    queries: Queries
    ingestors: dict[str, SourceIngestor]
    backfiller: Backfiller
    resolver: IdentityResolver
    reads: Database  # the list queries' pool (`db` itself on SQLite)
    started: contextlib.AsyncExitStack  # what start-up started, undone newest first
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://{self.config.http_host}:{self.http.port}"

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.started.aclose()  # the servers, then the resolver and the database


async def start(config: AppViewConfig, *, clock: Callable[[], datetime] = utc_now) -> AppView:
    """Start everything; if any step fails, what was already started is stopped again."""
    await upgrade(config.database_url, MIGRATIONS)
    return await start_or_undo(functools.partial(_start, config, clock))


async def _start(
    config: AppViewConfig, clock: Callable[[], datetime], started: contextlib.AsyncExitStack
) -> AppView:
    db = Database.from_url(config.database_url)
    started.push_async_callback(db.dispose)
    tune(db)
    reads = reads_database(db, config.database_url)
    if reads is not db:
        started.push_async_callback(reads.dispose)
    started.callback(LoopReads.close, reads)
    events = Events()
    resolver = IdentityResolver(
        config.plc_url, allow_insecure_loopback=config.dev, endpoint_policy=config.endpoint_policy()
    )
    started.push_async_callback(resolver.aclose)
    reader = RecordReader(reads)
    aggregates = Aggregates(db, clock)
    verifier = Verifier(reader, RecordFetcher(reader, resolver), resolver)
    queries = Queries(reader, aggregates, AccountQueries(db, reader, aggregates, clock), verifier)
    hub = FeedHub(db, events)
    grpc_server = await start_server(config.grpc, register(queries, hub))
    started.push_async_callback(grpc_server.stop)
    events.register_into(grpc_server.metrics.registry)
    http = await serve_http(
        build_app(queries, events, _health(db)), config.http_host, config.http_port
    )
    started.push_async_callback(http.stop)

    validator = RecordValidator(
        exchanges=config.exchanges, max_record_bytes=config.max_record_bytes
    )
    deps = IngestDeps(
        db, StoreWriter(db, clock), validator, events, clock,
        plc_url=config.plc_url, insecure_loopback=config.dev,
    )  # fmt: skip
    backfiller: Backfiller
    ingestors: dict[str, SourceIngestor] = {}

    def applied(outcome: Outcome) -> None:
        hub.publish(outcome)
        if outcome.new_repos or outcome.resyncs:
            backfiller.wake()

    for source, kind in config.source_kinds.items():
        ingestors[source] = SourceIngestor(
            source, deps, on_applied=applied, from_pds=kind == PDS, worker=config.ingest_workers
        )
    backfiller = Backfiller(
        deps, resolver, config.source_kinds, on_applied=applied,
        source_ready=lambda s: ingestors[s].connected, concurrency=config.backfill_concurrency,
    )  # fmt: skip
    app = AppView(
        config, db, grpc_server, http, hub, queries, ingestors, backfiller, resolver, reads, started
    )  # fmt: skip
    for ingestor in ingestors.values():
        await ingestor.stored_cursor()  # registers each source before the backfiller looks
    app.tasks.extend(asyncio.create_task(ingestor.run()) for ingestor in ingestors.values())
    app.tasks.append(asyncio.create_task(backfiller.run()))
    return app


def _health(db: Database) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            await db.ping()
        except CocoreError:
            return False
        return True

    return check
