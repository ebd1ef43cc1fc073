"""One function per business event: a low-cardinality metric and one structured log line.

None of these raise, and none log prompt or completion text (the gateway holds plaintext only
in memory, for the request it serves). Hot-path events log at DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

log = logging.getLogger("cocore.gateway")
stage_log = logging.getLogger("cocore.gateway.stages")  # DEBUG: one line per paid-path stage
REGISTRY = CollectorRegistry(auto_describe=True)
_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)

_REQUESTS = Counter(
    "cocore_gateway_requests", "HTTP answers, by route and status.", ["route", "status"],
    registry=REGISTRY,
)  # fmt: skip
_ERRORS = Counter(
    "cocore_gateway_errors", "Error answers, by stable code.", ["code"], registry=REGISTRY
)
_JOBS = Counter("cocore_gateway_jobs", "Jobs ended, by outcome.", ["outcome"], registry=REGISTRY)
_SETTLE = Counter(
    "cocore_gateway_settlements", "Fast-path settlements, by result.", ["result"], registry=REGISTRY
)
_OUTBOX = Counter(
    "cocore_gateway_outbox", "Outbox writes, by result.", ["result"], registry=REGISTRY
)
_RECEIPTS = Counter(
    "cocore_gateway_receipts", "Receipts the settler found, by where.", ["source"],
    registry=REGISTRY,
)  # fmt: skip
_AUTHZ = Counter(
    "cocore_gateway_ext_authz", "Edge auth checks, by verdict.", ["verdict"], registry=REGISTRY
)
_TTFT = Histogram(
    "cocore_gateway_first_chunk_seconds", "Request to first chunk.", buckets=_BUCKETS_S,
    registry=REGISTRY,
)  # fmt: skip
_DURATION = Histogram(
    "cocore_gateway_job_seconds", "Request to completion.", buckets=_BUCKETS_S, registry=REGISTRY
)
_STAGE = Histogram(
    "cocore_gateway_stage_seconds", "Paid-path stages (auth, admit, pick, dispatch, …).",
    ["stage"], buckets=_BUCKETS_S, registry=REGISTRY,
)  # fmt: skip


class _Bridge(Collector):
    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def install(registry: CollectorRegistry) -> None:
    registry.register(_Bridge())


def answered(route: str, status: int, code: str | None = None) -> None:
    _REQUESTS.labels(route, str(status)).inc()
    if code is not None:
        _ERRORS.labels(code).inc()
        log.info("request_refused route=%s status=%d code=%s", route, status, code)


def first_chunk(seconds: float) -> None:
    _TTFT.observe(seconds)


def stage(name: str, seconds: float) -> None:
    _STAGE.labels(name).observe(seconds)
    if stage_log.isEnabledFor(logging.DEBUG):
        stage_log.debug("stage %s ms=%.3f", name, seconds * 1e3,
                        extra={"stage": name, "seconds": seconds})  # fmt: skip


def job_ended(outcome: str, seconds: float, job: str, did: str, end_user: str) -> None:
    """One line per job: which account, which job, and the keyed tag of OpenAI's `user`."""
    _JOBS.labels(outcome).inc()
    _DURATION.observe(seconds)
    log.info("job_ended outcome=%s job=%s did=%s end_user=%s seconds=%.3f",
             outcome, job, did, end_user, seconds)  # fmt: skip


def settled(result: str, codes: tuple[str, ...] = ()) -> None:
    _SETTLE.labels(result).inc()
    level = logging.DEBUG if result == "settled" else logging.WARNING
    log.log(level, "settlement result=%s codes=%s", result, ",".join(codes))


def receipt_found(source: str) -> None:
    """`feed` (the AppView's) or `pds` (the provider's repo, asked directly)."""
    _RECEIPTS.labels(source).inc()


def receipt_feed_missed() -> None:
    _RECEIPTS.labels("feed_missed").inc()
    log.info("receipt_not_on_feed: asking the provider's PDS")


def records_published(count: int) -> None:
    _OUTBOX.labels("published").inc(count)


def outbox_retry(code: str) -> None:
    _OUTBOX.labels("retry").inc()
    log.warning("outbox_retry code=%s", code)


def edge_auth(verdict: str) -> None:
    _AUTHZ.labels(verdict).inc()


def account_event(kind: str, did: str) -> None:
    log.info("account_%s did=%s", kind, did)


def credentials_resealed(current: int, resealed: int, unreadable: int) -> None:
    """After a credentials-key rotation: logins moved to the current key, and those no
    configured key opens (their members must log in again)."""
    log.info("credentials_resealed current=%d resealed=%d unreadable=%d",
             current, resealed, unreadable)  # fmt: skip
