"""One function per business event: a low-cardinality counter and one structured log line.

None of these raise, and none log prompt or completion text (the exchange never sees any).
Per-settlement events log at DEBUG so the hot path costs a counter increment; rare events
(grants, policy changes, drift) log at INFO or WARNING.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

log = logging.getLogger("cocore.exchange")
stage_log = logging.getLogger("cocore.exchange.stages")  # DEBUG: writer timings per batch
REGISTRY = CollectorRegistry(auto_describe=True)

_SETTLEMENTS = Counter(
    "cocore_exchange_settlements", "Receipts handled, by outcome.", ["outcome"], registry=REGISTRY
)
_REJECTIONS = Counter(
    "cocore_exchange_rejections", "Receipts refused, by first finding code.", ["code"],
    registry=REGISTRY,
)  # fmt: skip
_TOKENS = Counter(
    "cocore_exchange_tokens", "Tokens moved, by transfer kind.", ["kind"], registry=REGISTRY
)
_ADMISSIONS = Counter(
    "cocore_exchange_admissions", "Admissions, by outcome.", ["outcome"], registry=REGISTRY
)
_HOLDS = Counter("cocore_exchange_holds_ended", "Holds ended, by how.", ["how"], registry=REGISTRY)
_OUTBOX = Counter(
    "cocore_exchange_outbox", "Outbox publish attempts, by result.", ["result"], registry=REGISTRY
)
_FAST_ADMISSIONS_LOST = Counter(
    "cocore_exchange_fast_admissions_lost",
    "Holds answered from memory that never committed (their jobs settle against the balance).",
    ["outcome"], registry=REGISTRY,
)  # fmt: skip
_BATCHES = Counter("cocore_exchange_batches", "Writer batches committed.", registry=REGISTRY)
_BATCH_COMMANDS = Counter(
    "cocore_exchange_batch_commands", "Commands applied by committed batches.", registry=REGISTRY
)
_DRIFT = Counter(
    "cocore_exchange_reconcile_drift", "Reconcile findings, by code.", ["code"], registry=REGISTRY
)
_RECORDS = Counter(
    "cocore_exchange_records", "Records issued, by collection.", ["collection"], registry=REGISTRY
)
_WRITER = Histogram(
    "cocore_exchange_writer_seconds",
    "Writer timings: the oldest command's wait in the queue, and the batch transaction.",
    ["phase"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip


class _Bridge(Collector):
    """Exposes these counters through a server's own registry."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def install(registry: CollectorRegistry) -> None:
    registry.register(_Bridge())


def _safe(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except (ValueError, TypeError):  # a metrics misuse must never fail a settlement
        log.debug("metric update failed", exc_info=True)


# The per-settlement series, looked up once (labels() costs more than the increment).
_SETTLED = _SETTLEMENTS.labels("settled")
_DUPLICATE = _SETTLEMENTS.labels("duplicate")
_CAPTURED = _TOKENS.labels("capture")
_FEES = _TOKENS.labels("fee")


def settlement_duplicate() -> None:
    _safe(_DUPLICATE.inc)


def settlements_committed(count: int, amount: int, fee: int) -> None:
    """Once per batch, after its commit: a batch that fails counts nothing."""
    if not count:
        return
    _safe(_SETTLED.inc, count)
    _safe(_CAPTURED.inc, amount)
    _safe(_FEES.inc, fee)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("settlements", extra={"count": count, "amount": amount, "fee": fee})


def settlement_rejected(codes: list[str]) -> None:
    first = codes[0] if codes else "unknown"
    _safe(_SETTLEMENTS.labels("rejected").inc)
    _safe(_REJECTIONS.labels(first).inc)
    log.info("receipt refused", extra={"codes": codes})


def admission(outcome: str) -> None:
    _safe(_ADMISSIONS.labels(outcome).inc)
    log.debug("admission", extra={"outcome": outcome})


def fast_admission_lost(outcome: str) -> None:
    _safe(_FAST_ADMISSIONS_LOST.labels(outcome).inc)
    log.warning("a hold answered from memory did not commit", extra={"outcome": outcome})


def hold_ended(how: str, amount: int) -> None:
    _safe(_HOLDS.labels(how).inc)
    log.debug("hold ended", extra={"how": how, "amount": amount})


def minted(kind: str, amount: int) -> None:
    _safe(_TOKENS.labels(kind).inc, amount)
    log.info("tokens minted", extra={"kind": kind, "amount": amount})


def patronage_distributed(recipients: int, distributed: int, treasury_before: int) -> None:
    _safe(_TOKENS.labels("patronage").inc, distributed)
    log.info(
        "patronage distributed",
        extra={"recipients": recipients, "distributed": distributed,
               "treasury_before": treasury_before},
    )  # fmt: skip


def refunded(amount: int) -> None:
    _safe(_TOKENS.labels("refund").inc, amount)
    log.info("refund", extra={"amount": amount})


def record_issued(collection: str) -> None:
    _safe(_RECORDS.labels(collection).inc)


def outbox_published(count: int) -> None:
    _safe(_OUTBOX.labels("published").inc, count)
    log.debug("outbox published", extra={"count": count})


def outbox_failed(error_code: str, attempts: int) -> None:
    _safe(_OUTBOX.labels("failed").inc)
    log.warning("outbox publish failed", extra={"code": error_code, "attempts": attempts})


def batch_committed(commands: int, transfers: int) -> None:
    _safe(_BATCHES.inc)
    _safe(_BATCH_COMMANDS.inc, commands)
    log.debug("batch committed", extra={"commands": commands, "transfers": transfers})


def writer_timing(phase: str, seconds: float, commands: int) -> None:
    _safe(_WRITER.labels(phase).observe, seconds)
    if stage_log.isEnabledFor(logging.DEBUG):
        stage_log.debug("writer %s ms=%.3f", phase, seconds * 1e3,
                        extra={"stage": f"exchange {phase}", "seconds": seconds,
                               "commands": commands})  # fmt: skip


def batch_split(commands: int, error_code: str) -> None:
    log.warning("batch failed; retrying its commands one by one",
                extra={"commands": commands, "code": error_code})  # fmt: skip


def drift(code: str, subject: str) -> None:
    _safe(_DRIFT.labels(code).inc)
    log.warning("reconcile drift", extra={"code": code, "subject": subject})


def policy_published(uri: str, superseded: int) -> None:
    log.info("policy published", extra={"uri": uri, "superseded": superseded})


def source_error(source: str, code: str) -> None:
    log.warning("receipt source error", extra={"source": source, "code": code})


def identity_key_published(did: str) -> None:
    log.info("exchange key added to DID document", extra={"did": did})
