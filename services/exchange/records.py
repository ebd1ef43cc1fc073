"""The records the exchange publishes, their rkey and CID fixed before any PDS sees them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocore.crypto import b64encode
from cocore.lexicon import ids
from cocore.syntax import Did, Nsid, format_datetime, make_at_uri, parse_record_key, record_cid


@dataclass(frozen=True, slots=True)
class StrongRef:
    uri: str
    cid: str

    def to_json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> StrongRef:
        return cls(str(value["uri"]), str(value["cid"]))


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record as it will live in the exchange's repo: where, and the CID it will have.

    `body` is the record, or its `record_text` when it was built elsewhere (a settlement
    signed on a verifier process arrives as text, so the writer never re-encodes it)."""

    collection: Nsid
    rkey: str
    uri: str
    cid: str
    body: dict[str, Any] | str

    @property
    def ref(self) -> StrongRef:
        return StrongRef(self.uri, self.cid)

    @property
    def record(self) -> dict[str, Any]:
        if isinstance(self.body, str):
            value: dict[str, Any] = json.loads(self.body)
            return value
        return self.body

    @property
    def text(self) -> str:
        """What the outbox stores and the publisher sends."""
        return self.body if isinstance(self.body, str) else record_text(self.body)


def record_text(record: Mapping[str, Any]) -> str:
    """A record as compact, sorted JSON (it is ours and plain data, so no checks are needed)."""
    return _TEXT.encode(record)


# Built once: json.dumps with options builds an encoder per call.
_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def out_record(repo: Did, collection: Nsid, rkey: str, record: Mapping[str, Any]) -> OutRecord:
    """Fix the record's place and CID locally (the PDS computes the same CID on write)."""
    body = {**record, "$type": collection}
    uri = make_at_uri(repo, collection, parse_record_key(rkey))
    return OutRecord(collection, rkey, str(uri), str(record_cid(body)), body)


def settlement_out(repo: Did, rkey: str, text: str, cid: str) -> OutRecord:
    """A settlement signed elsewhere (`record_text` of it), placed at `rkey` (its CID does not
    depend on where)."""
    # `rkey` is a TID of the writer's own clock: valid by construction, so not parsed again.
    uri = f"at://{repo}/{ids.COMPUTE_SETTLEMENT}/{rkey}"
    return OutRecord(ids.COMPUTE_SETTLEMENT, rkey, uri, cid, text)


def when(moment: datetime) -> str:
    return str(format_datetime(moment))


def grant_record(
    exchange: Did, recipient: str, amount: int, policy: StrongRef, created_at: datetime
) -> dict[str, Any]:
    return {
        "$type": ids.ACCOUNT_TOKEN_GRANT, "exchange": exchange, "recipient": recipient,
        "amount": amount, "policy": policy.to_json(), "createdAt": when(created_at),
    }  # fmt: skip


def patronage_record(
    *,
    exchange: Did,
    recipient: str,
    period: tuple[datetime, datetime],
    score: int,
    total: int,
    credited: int,
    treasury_before: int,
    policy: StrongRef,
    created_at: datetime,
) -> dict[str, Any]:
    return {
        "$type": ids.ACCOUNT_TOKEN_PATRONAGE, "exchange": exchange, "recipient": recipient,
        "period": {"start": when(period[0]), "end": when(period[1])},
        "patronageScore": score, "totalPatronage": total, "tokensCredited": credited,
        "treasuryBefore": treasury_before, "policy": policy.to_json(),
        "createdAt": when(created_at),
    }  # fmt: skip


def processor_reference(transfer_id: str) -> str:
    """The `bytes` field as base64: an opaque handle the exchange maps back to its journal."""
    return b64encode(hashlib.sha256(transfer_id.encode()).digest())


@dataclass(frozen=True, slots=True)
class Charge:
    """The numbers of one settlement, all in one currency."""

    amount: int
    fee: int
    currency: str

    @property
    def payout(self) -> int:
        return self.amount - self.fee


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def settlement_record(
    *,
    receipt: StrongRef,
    authorization: StrongRef,
    charge: Charge,
    transfer_id: str,
    policy: StrongRef,
    attestation: StrongRef,
    settled_at: datetime,
    refund_of: StrongRef | None = None,
    payout_back: int | None = None,
) -> dict[str, Any]:
    """A settlement (unsigned). A refund states what it returns and where it came from:
    `amountCharged` is the refund, `providerPayout` + `exchangeFee` the parts clawed back."""
    payout = charge.payout if payout_back is None else payout_back
    record: dict[str, Any] = {
        "$type": ids.COMPUTE_SETTLEMENT,
        "receipt": receipt.to_json(),
        "requesterAuthorization": authorization.to_json(),
        "amountCharged": _money(charge.amount, charge.currency),
        "providerPayout": _money(payout, charge.currency),
        "exchangeFee": _money(charge.amount - payout, charge.currency),
        "processorReference": processor_reference(transfer_id),
        "status": "settled" if refund_of is None else "refunded",
        "policy": policy.to_json(),
        "exchangeAttestation": attestation.to_json(),
        "settledAt": when(settled_at),
    }
    if refund_of is not None:
        record["refundOf"] = refund_of.to_json()
    return record


def attestation_record(
    *,
    exchange: Did,
    policy: StrongRef,
    software_version: str,
    fingerprint: str,
    audit_posture: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": ids.COMPUTE_EXCHANGE_ATTESTATION, "exchange": exchange,
        "policy": policy.to_json(), "softwareVersion": software_version,
        "signingKeyFingerprint": fingerprint, "createdAt": when(created_at),
    }  # fmt: skip
    if audit_posture:
        record["auditPosture"] = audit_posture
    return record
