"""Signed record chains for AppView tests: authorization, job, attestation, receipt, policy,
settlement — built the way the gateway, provider and exchange build them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cocore.crypto import SigningKey, b64encode
from cocore.lexicon import ids
from cocore.signing import sign_attestation, sign_receipt, sign_settlement
from cocore.syntax import Nsid, format_datetime, next_tid, record_cid
from tests.conftest import load_vector

CURRENCY = "USD"  # the lexicon wants 3-8 characters (the reference exchange's "CC" fails it)
_VECTOR = load_vector("receipts.json")["scenarios"][0]


def ts(moment: datetime) -> str:
    return str(format_datetime(moment))


@dataclass
class Rec:
    """A record and where it will live (its URI and CID are known before it is written)."""

    collection: Nsid
    repo: str
    value: dict[str, Any]
    rkey: str = field(default_factory=lambda: str(next_tid()))

    @property
    def uri(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"

    @property
    def cid(self) -> str:
        return str(record_cid(self.value))

    @property
    def ref(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


@dataclass
class Chain:
    authorization: Rec
    job: Rec
    attestation: Rec
    receipt: Rec
    policy: Rec
    settlement: Rec

    def by_repo(self) -> dict[str, list[Rec]]:
        out: dict[str, list[Rec]] = {}
        for rec in (
            self.authorization,
            self.job,
            self.attestation,
            self.receipt,
            self.policy,
            self.settlement,
        ):
            out.setdefault(rec.repo, []).append(rec)
        return out


def attestation(provider: str, key: SigningKey, now: datetime) -> Rec:
    body = copy.deepcopy(_VECTOR["attestation"])
    body.update(
        publicKey=key.public_key.to_cocore_b64(),
        attestedAt=ts(now - timedelta(hours=1)),
        expiresAt=ts(now + timedelta(hours=23)),
    )
    body.pop("selfSignature", None)
    return Rec(ids.COMPUTE_ATTESTATION, provider, sign_attestation(body, key))


def policy(exchange: str, now: datetime, bps: int = 500) -> Rec:
    return Rec(
        ids.COMPUTE_EXCHANGE_POLICY,
        exchange,
        {
            "$type": str(ids.COMPUTE_EXCHANGE_POLICY),
            "exchange": exchange,
            "fee": {"bps": bps, "minMinor": 0, "currency": CURRENCY},
            "supportedCurrencies": [CURRENCY],
            "selfLoop": {"feeWaived": True},
            "active": True,
            "createdAt": ts(now),
        },
    )


def chain(
    *,
    provider: str,
    requester: str,
    exchange: str,
    provider_key: SigningKey,
    exchange_key: SigningKey,
    now: datetime | None = None,
    price: int = 100,
    model: str = "SmolLM2-135M-Instruct",
    att: Rec | None = None,
    pol: Rec | None = None,
) -> Chain:
    now = now or datetime.now(UTC)
    auth = Rec(
        ids.COMPUTE_PAYMENT_AUTHORIZATION,
        requester,
        {
            "$type": str(ids.COMPUTE_PAYMENT_AUTHORIZATION),
            "exchange": exchange,
            "ceiling": {"amount": 100_000, "currency": CURRENCY},
            "scope": "singleJob",
            "nonce": next_tid() + "abcdefghijklmnopqrs",
            "expiresAt": ts(now + timedelta(hours=1)),
            "createdAt": ts(now - timedelta(seconds=5)),
        },
    )
    job = Rec(
        ids.COMPUTE_JOB,
        requester,
        {
            "$type": str(ids.COMPUTE_JOB),
            "model": model,
            "inputCommitment": "ab" * 32,
            "maxTokensOut": 256,
            "priceCeiling": {"amount": 100_000, "currency": CURRENCY},
            "acceptedTrustLevel": "self-attested",
            "acceptedExchanges": [exchange],
            "paymentAuthorization": auth.ref,
            "nonce": "0123456789abcdef0123456789abcdef",
            "expiresAt": ts(now + timedelta(hours=1)),
            "createdAt": ts(now - timedelta(seconds=4)),
        },
    )
    att = att or attestation(provider, provider_key, now)
    receipt_body = {
        "$type": str(ids.COMPUTE_RECEIPT),
        "job": job.ref,
        "requester": requester,
        "model": model,
        "inputCommitment": "ab" * 32,
        "outputCommitment": "cd" * 32,
        "tokens": {"in": 12, "out": 30},
        "startedAt": ts(now - timedelta(seconds=3)),
        "completedAt": ts(now - timedelta(seconds=1)),
        "price": {"amount": price, "currency": CURRENCY},
        "attestation": att.ref,
    }
    receipt = Rec(ids.COMPUTE_RECEIPT, provider, sign_receipt(receipt_body, provider_key))
    pol = pol or policy(exchange, now)
    fee = price * 500 // 10_000
    settlement_body = {
        "receipt": receipt.ref,
        "requesterAuthorization": auth.ref,
        "amountCharged": {"amount": price, "currency": CURRENCY},
        "providerPayout": {"amount": price - fee, "currency": CURRENCY},
        "exchangeFee": {"amount": fee, "currency": CURRENCY},
        "processorReference": {"$bytes": b64encode(b"ledger").rstrip("=")},
        "status": "settled",
        "policy": pol.ref,
        "settledAt": ts(now),
    }
    signed = sign_settlement(settlement_body, exchange_key)
    settlement = Rec(
        ids.COMPUTE_SETTLEMENT, exchange, {"$type": str(ids.COMPUTE_SETTLEMENT), **signed}
    )
    return Chain(auth, job, att, receipt, pol, settlement)


def resign_receipt(rec: Rec, key: SigningKey, **changes: Any) -> Rec:
    body = {**rec.value, **changes}
    return Rec(rec.collection, rec.repo, sign_receipt(body, key), rec.rkey)
