"""Wiring: build the exchange's parts from its config and start the gRPC server. No logic here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from cocore.atproto import AtprotoClient, IdentityResolver, ServiceAuthVerifier
from cocore.atproto.plc import multibase, p256_did_key
from cocore.crypto import jwk_fingerprint
from cocore.lexicon import ids
from cocore.proto.exchange.v1 import exchange_pb2, exchange_pb2_grpc
from cocore.rpc import RunningServer, service_name, start_server
from cocore.startup import start_or_undo
from cocore.storage import Database, upgrade
from cocore.syntax import TidClock

from . import events, faults, identity
from .admission import AdmissionBook
from .auth import Authenticator
from .config import Config
from .exchange import Exchange
from .feed import AppViewFeedSource
from .fetch import RecordFetcher
from .handlers import ExchangeServicer, KeyInfo
from .policies import Attesting, publish_policy
from .publisher import Publisher
from .receipts import FirehoseSource, ReceiptSource, settle_from
from .reconcile import Report, deep_drifts
from .state import Batch
from .sweeps import distribute_due_patronage, every, expire_holds, retry_unsettled, supervise
from .verifier_pool import Verifier
from .writer import Writer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    """A running exchange: its server and the parts and tasks behind it."""

    config: Config
    running: RunningServer
    exchange: Exchange
    publisher: Publisher
    writer_task: asyncio.Task[None]
    started: contextlib.AsyncExitStack  # what start-up started, undone newest first
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop serving, let queued writes finish, then stop the background work."""
        await self.running.stop()
        await self.exchange.writer.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.started.aclose()  # the verifier, the clients, then the database


async def build(config: Config, clock: Callable[[], datetime] = utc_now) -> App:
    """Build and start the exchange; if any step fails, what was already started is stopped
    again (a leftover database thread or verifier process would keep the process alive)."""
    if config.migrate:
        await upgrade(config.db_url, MIGRATIONS)
    faults.arm(config.crash_at)
    return await start_or_undo(functools.partial(_build, config, clock))


async def _build(
    config: Config, clock: Callable[[], datetime], started: contextlib.AsyncExitStack
) -> App:
    database = Database.from_url(config.db_url)
    started.push_async_callback(database.dispose)
    keys = identity.load_keys(config)
    did = await identity.establish(config, database, keys)
    tids = TidClock()
    jwk = keys.settlement.public_key.to_jwk()
    attesting = Attesting(config.software_version, jwk_fingerprint(jwk), config.audit_posture)
    policies = await publish_policy(database, exchange=did, terms=config.terms,
                                    attesting=attesting, now=clock(),
                                    tid=lambda: str(tids.next()))  # fmt: skip
    publisher = Publisher(database, lambda: identity.login(config, keys), clock)
    started.push_async_callback(publisher.close)
    admissions = AdmissionBook(config.fast_admit_s) if config.fast_admit_s > 0 else None

    def committed(batch: Batch) -> None:
        if admissions is not None:
            admissions.committed(batch)
        if batch.outbox:
            publisher.wake()

    writer = Writer(database, policies.context, clock, tids=tids, on_commit=committed,
                    linger_s=config.hold_linger_ms / 1000)  # fmt: skip
    verifier = Verifier(keys.settlement, config.verify_workers)
    await verifier.start()
    started.push_async_callback(verifier.stop)
    resolver = IdentityResolver(config.plc_url, allow_insecure_loopback=config.dev)
    started.push_async_callback(resolver.aclose)
    fetcher = RecordFetcher(resolver)
    started.push_async_callback(fetcher.aclose)
    exchange = Exchange(database=database, writer=writer, verifier=verifier, policies=policies,
                        key=keys.settlement, clock=clock, fetcher=fetcher,
                        admissions=admissions)  # fmt: skip
    auth = Authenticator(config.operator_token, config.service_tokens,
                         ServiceAuthVerifier(did, resolver))  # fmt: skip
    key = KeyInfo(jwk, attesting.fingerprint, multibase(p256_did_key(keys.settlement.public_key)))

    async def deep() -> Report:
        return await _deep_reconcile(exchange, config.pds_url)

    servicer = ExchangeServicer(exchange, auth, key, deep)

    def register(server: grpc.aio.Server) -> list[str]:
        exchange_pb2_grpc.add_ExchangeServicer_to_server(servicer, server)
        return [service_name(exchange_pb2, "Exchange")]

    writer_task = writer.start()
    started.push_async_callback(writer.stop)
    running = await start_server(config.server, register)
    events.install(running.metrics.registry)
    app = App(config, running, exchange, publisher, writer_task=writer_task, started=started)
    app.tasks += _background(config, exchange, publisher, database, clock)
    return app


def _background(
    config: Config,
    exchange: Exchange,
    publisher: Publisher,
    database: Database,
    clock: Callable[[], datetime],
) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(publisher.run(), name="exchange-publisher")]
    sources: list[ReceiptSource] = [FirehoseSource(database, u, clock)
                                    for u in config.receipt_firehoses]  # fmt: skip
    if config.appview_address:
        sources.append(AppViewFeedSource(database, config.appview_address, clock))
    for source in sources:
        run = functools.partial(settle_from, source, exchange, config.source_grace_s)
        tasks.append(asyncio.create_task(supervise(source.name, run), name=source.name))
    if config.expire_interval_s > 0:
        tasks.append(asyncio.create_task(
            every(config.expire_interval_s, "expire", lambda: expire_holds(exchange))
        ))  # fmt: skip
    if config.reconcile_interval_s > 0:
        tasks.append(asyncio.create_task(
            every(config.reconcile_interval_s, "reconcile", exchange.reconcile)
        ))  # fmt: skip
        tasks.append(asyncio.create_task(
            every(config.reconcile_interval_s / 4, "retry", lambda: retry_unsettled(exchange))
        ))  # fmt: skip
    if config.patronage_interval_s > 0:
        grace = timedelta(seconds=config.patronage_grace_s)
        tasks.append(asyncio.create_task(every(
            config.patronage_interval_s, "patronage",
            lambda: distribute_due_patronage(exchange, grace), at_start=True,
        )))  # fmt: skip
    return tasks


async def _deep_reconcile(exchange: Exchange, pds_url: str) -> Report:
    report = await exchange.reconcile()
    client = AtprotoClient.anonymous(pds_url)
    try:
        drifts = await deep_drifts(exchange.db, client, exchange.did, ids.COMPUTE_SETTLEMENT)
    finally:
        await client.aclose()
    all_drifts = (*report.drifts, *drifts)
    return Report(not all_drifts, all_drifts, report.stats, report.checked_at,
                  report.oldest_pending_outbox)  # fmt: skip
