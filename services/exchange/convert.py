"""Protobuf ↔ domain conversions for the handlers: parsing requests, shaping responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cocore.canonical import CanonicalError, canonicalize, loads_strict
from cocore.lexicon import ids
from cocore.proto.common.v1 import common_pb2
from cocore.proto.exchange.v1 import exchange_pb2 as pb
from cocore.syntax import AtUri, Did, parse_at_uri, parse_datetime, parse_did, record_cid
from cocore.verify import Finding, Severity

from .errors import InvalidRecord
from .holds import HoldState
from .ledger_store import JournalEntry
from .ledger_types import PendingStatus, TransferFlags
from .records import OutRecord, StrongRef, when

HOLD_STATUS = {
    PendingStatus.PENDING: pb.HOLD_STATUS_PENDING,
    PendingStatus.POSTED: pb.HOLD_STATUS_POSTED,
    PendingStatus.VOIDED: pb.HOLD_STATUS_VOIDED,
    PendingStatus.EXPIRED: pb.HOLD_STATUS_EXPIRED,
}
SEVERITY = {
    Severity.ERROR: common_pb2.SEVERITY_ERROR,
    Severity.WARN: common_pb2.SEVERITY_WARNING,
    Severity.INFO: common_pb2.SEVERITY_INFO,
}
PHASES = {
    TransferFlags.NONE: "posted",
    TransferFlags.PENDING: "pending",
    TransferFlags.POST_PENDING: "post_pending",
    TransferFlags.VOID_PENDING: "void_pending",
}


def did(value: str, field: str) -> Did:
    if not value:
        raise InvalidRecord(f"{field} is required", code="missing_field", details={"field": field})
    return parse_did(value)


def optional_uri(value: str) -> AtUri | None:
    return parse_at_uri(value) if value else None


def optional_time(value: str) -> datetime | None:
    return parse_datetime(value).value if value else None


def record_json(message: common_pb2.Record, what: str) -> dict[str, Any] | None:
    """A record's canonical JSON bytes as a dict; None when the message is empty."""
    if not message.record:
        return None
    try:
        value = loads_strict(message.record)
    except CanonicalError as e:
        raise InvalidRecord(f"{what}: the record bytes are not strict JSON: {e}") from e
    if not isinstance(value, dict):
        raise InvalidRecord(f"{what}: a record is a JSON object")
    return value


def strong_ref(ref: StrongRef) -> common_pb2.StrongRef:
    return common_pb2.StrongRef(uri=ref.uri, cid=ref.cid)


def record_message(record: OutRecord) -> common_pb2.Record:
    uri = parse_at_uri(record.uri)
    return common_pb2.Record(
        uri=record.uri, cid=record.cid, record=canonicalize(record.record),
        collection=record.collection, repo=uri.repo, rkey=record.rkey,
    )  # fmt: skip


def loose_record(record: dict[str, Any], collection: str) -> common_pb2.Record:
    """A record that has no place yet (a terms acceptance for the user's repo)."""
    return common_pb2.Record(
        cid=str(record_cid(record)), record=canonicalize(record), collection=collection
    )


def stored_record(uri: str, cid: str, record: dict[str, Any]) -> common_pb2.Record:
    at = parse_at_uri(uri)
    return common_pb2.Record(uri=uri, cid=cid, record=canonicalize(record),
                             collection=at.collection, repo=at.repo, rkey=at.rkey)  # fmt: skip


def findings(items: tuple[Finding, ...]) -> list[common_pb2.Finding]:
    return [common_pb2.Finding(severity=SEVERITY[f.severity], code=f.code, message=f.message)
            for f in items]  # fmt: skip


def release(state: HoldState) -> pb.ReleaseResponse:
    return pb.ReleaseResponse(hold_id=state.hold_id, amount=state.amount,
                              status=HOLD_STATUS[state.status], changed=state.changed)  # fmt: skip


def ledger_event(entry: JournalEntry, account: str) -> pb.LedgerEvent:
    t = entry.transfer
    posted = not t.flags & (TransferFlags.PENDING | TransferFlags.VOID_PENDING)
    sign = 1 if t.credit_account_id == account else -1
    other = t.debit_account_id if sign == 1 else t.credit_account_id
    return pb.LedgerEvent(
        seq=entry.seq, transfer_id=t.id, kind=str(t.kind), amount=t.amount,
        balance_delta=sign * t.amount if posted else 0, phase=PHASES[t.flags],
        counterparty=other.partition(":")[2], reference=t.reference,
        timestamp=when(t.timestamp) if t.timestamp else "",
    )  # fmt: skip


def terms_collection() -> str:
    return str(ids.COMPUTE_TERMS_ACCEPTANCE)
