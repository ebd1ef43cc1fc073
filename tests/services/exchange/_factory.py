"""Signed receipt bundles for exchange tests and benchmarks: real keys, real signatures, CIDs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey
from cocore.lexicon import ids
from cocore.signing import sign_attestation, sign_receipt
from cocore.syntax import (
    AtUri,
    Did,
    Nsid,
    TidClock,
    format_datetime,
    make_at_uri,
    parse_did,
    parse_record_key,
    record_cid,
)
from services.exchange.ledger_types import DEFAULT_CURRENCY
from services.exchange.verification import Bundle

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
COMMITMENT = "ab" * 32


def random_did(rng: random.Random) -> Did:
    return parse_did("did:plc:" + "".join(rng.choice(_ALPHABET) for _ in range(24)))


def _ts(moment: datetime) -> str:
    return str(format_datetime(moment))


@dataclass
class StoredRecord:
    uri: AtUri
    record: dict[str, Any]

    @property
    def cid(self) -> str:
        return str(record_cid(self.record))

    @property
    def ref(self) -> dict[str, str]:
        return {"uri": str(self.uri), "cid": self.cid}


@dataclass
class Provider:
    did: Did
    key: SigningKey
    attestation: StoredRecord


@dataclass
class ReceiptFactory:
    """Builds job, authorization, attestation and receipt records that verify for charge."""

    exchange: Did
    now: datetime
    rate_in: int = 1_000_000
    rate_out: int = 1_000_000
    currency: str = DEFAULT_CURRENCY
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    tids: TidClock = field(init=False)

    def __post_init__(self) -> None:
        self.tids = TidClock(lambda: int(self.now.timestamp() * 1e6), clock_id=1)

    def did(self) -> Did:
        return random_did(self.rng)

    def _place(self, repo: Did, collection: Nsid, record: dict[str, Any]) -> StoredRecord:
        uri = make_at_uri(repo, collection, parse_record_key(str(self.tids.next())))
        return StoredRecord(uri, {"$type": collection, **record})

    def provider(self, did: Did | None = None, key: SigningKey | None = None) -> Provider:
        did = did or self.did()
        key = key or SigningKey.generate()
        att = sign_attestation({
            "publicKey": key.public_key.to_cocore_b64(),
            "encryptionPubKey": EncryptionKeyPair.generate(SealScheme.X25519).public_key_b64,
            "chipName": "Test CPU", "hardwareModel": "Linux", "serialNumberHash": COMMITMENT,
            "osVersion": "1", "binaryHash": COMMITMENT, "sipEnabled": False,
            "secureBootEnabled": False, "secureEnclaveAvailable": False,
            "authenticatedRootEnabled": False,
            "attestedAt": _ts(self.now - timedelta(hours=1)),
            "expiresAt": _ts(self.now + timedelta(hours=23)),
        }, key)  # fmt: skip
        return Provider(did, key, self._place(did, ids.COMPUTE_ATTESTATION, att))

    def authorization(
        self,
        requester: Did,
        *,
        ceiling: int = 100_000,
        scope: str = "singleJob",
        budget: int | None = None,
        nonce: str | None = None,
    ) -> StoredRecord:
        record: dict[str, Any] = {
            "exchange": self.exchange, "ceiling": {"amount": ceiling, "currency": self.currency},
            "scope": scope, "nonce": nonce or f"{self.rng.getrandbits(128):032x}",
            "expiresAt": _ts(self.now + timedelta(hours=1)), "createdAt": _ts(self.now),
        }  # fmt: skip
        if budget is not None:
            record["sessionBudget"] = {"amount": budget, "currency": self.currency}
        return self._place(requester, ids.COMPUTE_PAYMENT_AUTHORIZATION, record)

    def bundle(
        self,
        requester: Did,
        provider: Provider,
        *,
        tokens_in: int = 0,
        tokens_out: int = 100,
        price: int | None = None,
        job_ceiling: int = 100_000,
        auth: StoredRecord | None = None,
        pro_bono: bool = False,
        completed_at: datetime | None = None,
        hold_hint: str | None = None,
    ) -> Bundle:
        auth = auth or self.authorization(requester, ceiling=job_ceiling)
        job = self.job(requester, auth, ceiling=job_ceiling)
        if pro_bono:
            tokens_in = tokens_out = 0
        if price is None:
            price = (tokens_in * self.rate_in + tokens_out * self.rate_out) // 1_000_000
        receipt = self.receipt(provider, job, price=price, tokens=(tokens_in, tokens_out),
                               pro_bono=pro_bono, completed_at=completed_at)  # fmt: skip
        return Bundle(receipt.uri, receipt.record, job.record, auth.record,
                      provider.attestation.record, receipt.cid, hold_hint)  # fmt: skip

    def job(self, requester: Did, auth: StoredRecord, *, ceiling: int = 100_000) -> StoredRecord:
        return self._place(requester, ids.COMPUTE_JOB, {
            "model": "test-model", "inputCommitment": COMMITMENT, "maxTokensOut": 2_000_000,
            "priceCeiling": {"amount": ceiling, "currency": self.currency},
            "acceptedTrustLevel": "self-attested", "acceptedExchanges": [self.exchange],
            "paymentAuthorization": auth.ref, "nonce": f"{self.rng.getrandbits(128):032x}",
            "expiresAt": _ts(self.now + timedelta(hours=1)), "createdAt": _ts(self.now),
        })  # fmt: skip

    def receipt(
        self,
        provider: Provider,
        job: StoredRecord,
        *,
        price: int,
        tokens: tuple[int, int],
        pro_bono: bool = False,
        completed_at: datetime | None = None,
    ) -> StoredRecord:
        done = completed_at or self.now
        body: dict[str, Any] = {
            "job": job.ref, "requester": job.uri.repo, "model": "test-model",
            "inputCommitment": COMMITMENT, "outputCommitment": "cd" * 32,
            "tokens": {"in": tokens[0], "out": tokens[1]},
            "startedAt": _ts(done - timedelta(seconds=2)), "completedAt": _ts(done),
            "price": {"amount": price, "currency": self.currency},
            "attestation": provider.attestation.ref,
        }  # fmt: skip
        if pro_bono:
            body["proBono"] = True
        signed = sign_receipt({"$type": ids.COMPUTE_RECEIPT, **body}, provider.key)
        return self._place(provider.did, ids.COMPUTE_RECEIPT, signed)


def tampered(bundle: Bundle, **receipt_changes: Any) -> Bundle:
    """The same bundle with receipt fields changed after signing."""
    return replace(bundle, receipt={**bundle.receipt, **receipt_changes}, receipt_cid=None)
