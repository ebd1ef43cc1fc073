"""One function per business event: a low-cardinality counter and one structured log line.

None of these raise, and none log prompt or completion text: only job ids, codes and counts.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("cocore.provider")
REGISTRY = CollectorRegistry(auto_describe=True)

_JOBS = Counter("cocore_provider_jobs", "Jobs ended, by outcome.", ["outcome"], registry=REGISTRY)
_TOKENS = Counter("cocore_provider_tokens", "Tokens served.", ["direction"], registry=REGISTRY)
_RECEIPTS = Counter(
    "cocore_provider_receipts", "Receipt outbox events, by result.", ["result"], registry=REGISTRY
)
_RECORDS = Counter(
    "cocore_provider_records", "Record writes, by collection.", ["collection"], registry=REGISTRY
)


def job_completed(job_id: str, tokens_in: int, tokens_out: int, chunks: int) -> None:
    _JOBS.labels("completed").inc()
    _TOKENS.labels("in").inc(tokens_in)
    _TOKENS.labels("out").inc(tokens_out)
    log.info("job %s completed: %d in, %d out, %d chunks", job_id, tokens_in, tokens_out, chunks)


def job_failed(job_id: str, code: str) -> None:
    _JOBS.labels("failed").inc()
    log.info("job %s failed: %s", job_id, code)


def job_cancelled(job_id: str) -> None:
    _JOBS.labels("cancelled").inc()
    log.info("job %s cancelled: no receipt", job_id)


def receipt_held(job_id: str, uri: str) -> None:
    _RECEIPTS.labels("held").inc()
    log.debug("job %s: receipt %s held until delivery", job_id, uri)


def receipt_released(uri: str, delivered: bool) -> None:
    _RECEIPTS.labels("released" if delivered else "discarded").inc()
    if delivered:
        log.debug("receipt %s queued for publishing", uri)
    else:
        log.info("receipt %s discarded: the answer was not delivered", uri)


def receipt_published() -> None:
    _RECEIPTS.labels("published").inc()


def receipt_publish_retry(code: str) -> None:
    _RECEIPTS.labels("retry").inc()
    log.warning("receipt publish failed (%s); will retry", code)


def receipt_publish_failed(code: str) -> None:
    _RECEIPTS.labels("failed").inc()
    log.error("receipt publish refused for good (%s); kept in the outbox", code)


def record_written(collection: str, what: str) -> None:
    _RECORDS.labels(collection).inc()
    log.info("%s: %s", collection, what)


def attestation_renewed(uri: str, expires_at: str) -> None:
    _RECORDS.labels("attestation").inc()
    log.info("attestation %s valid until %s", uri, expires_at)
