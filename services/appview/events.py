"""Business events: each bumps a low-cardinality Prometheus metric and logs one line."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .items import Outcome

log = logging.getLogger("cocore.appview")

_HTTP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Events:
    """The AppView's metrics, registered in the registry the gRPC server already serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.registry = r
        self._changes = Counter(
            "cocore_appview_record_changes", "Record changes applied.", ["action"], registry=r
        )
        self._stale = Counter(
            "cocore_appview_stale_changes",
            "Changes skipped because a newer version is indexed.",
            registry=r,
        )
        self._invalid = Counter(
            "cocore_appview_invalid_records",
            "Records skipped as invalid, by reason.",
            ["reason"],
            registry=r,
        )
        self._cursor = Gauge(
            "cocore_appview_source_cursor", "Last committed firehose seq.", ["source"], registry=r
        )
        self._feed_head = Gauge("cocore_appview_feed_head", "Newest WatchRecords seq.", registry=r)
        self._backfills = Counter(
            "cocore_appview_backfills", "Repo backfills, by result.", ["result"], registry=r
        )
        self._firehose = Counter(
            "cocore_appview_firehose_connects", "Firehose (re)connections.", ["source"], registry=r
        )
        self._watchers = Gauge("cocore_appview_watchers", "Open WatchRecords streams.", registry=r)
        self._watch_resumes = Counter(
            "cocore_appview_watch_resumed_from_store",
            "Times a slow WatchRecords stream fell behind its buffer and read from the store.",
            registry=r,
        )
        self._xrpc = Counter(
            "cocore_appview_xrpc_requests",
            "XRPC requests by method and status.",
            ["method", "status"],
            registry=r,
        )
        self._xrpc_time = Histogram(
            "cocore_appview_xrpc_request_duration_seconds",
            "XRPC request latency.",
            ["method"],
            buckets=_HTTP_BUCKETS_S,
            registry=r,
        )

    def register_into(self, registry: CollectorRegistry) -> None:
        """Also expose these metrics where the gRPC server serves its own."""
        for collector in (self._changes, self._stale, self._invalid, self._cursor,
                          self._feed_head, self._backfills, self._firehose, self._watchers,
                          self._watch_resumes, self._xrpc, self._xrpc_time):  # fmt: skip
            registry.register(collector)

    def batch_applied(self, source: str, cursor: int | None, outcome: Outcome) -> None:
        for action, n in (
            ("create", outcome.created),
            ("update", outcome.updated),
            ("delete", outcome.deleted),
        ):
            if n:
                self._changes.labels(action).inc(n)
        if outcome.stale:
            self._stale.inc(outcome.stale)
        if cursor is not None:
            self._cursor.labels(source).set(cursor)
        self._feed_head.set(outcome.head)

    def record_invalid(self, reason: str, uri: str, detail: str) -> None:
        self._invalid.labels(reason).inc()
        log.info("skipped invalid record %s: %s (%s)", uri, reason, detail[:200])

    def firehose_connected(self, source: str, cursor: int | None) -> None:
        self._firehose.labels(source).inc()
        log.info("firehose %s connected from cursor %s", source, cursor)

    def ingest_failed(self, source: str, error: BaseException) -> None:
        name = type(error).__name__
        log.error("ingest from %s stopped (%s: %s); restarting", source, name, error)

    def backfill_done(self, did: str, records: int, rev: str) -> None:
        self._backfills.labels("done").inc()
        log.info("backfilled %s: %d records at rev %s", did, records, rev)

    def backfill_failed(self, did: str, error: BaseException) -> None:
        self._backfills.labels("failed").inc()
        log.warning("backfill of %s failed (%s); will retry", did, type(error).__name__)

    def watcher(self, opened: bool) -> None:
        self._watchers.inc() if opened else self._watchers.dec()

    def watcher_resumed_from_store(self) -> None:
        self._watch_resumes.inc()

    def xrpc_request(self, method: str, status: int, seconds: float) -> None:
        self._xrpc.labels(method, str(status)).inc()
        self._xrpc_time.labels(method).observe(seconds)
