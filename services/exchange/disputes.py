"""Disputes: opened and resolved by the exchange, signed, and refunds that move the ledger.

A refund verdict returns money to the requester, the provider and the treasury each giving
back their share (`formulas.refund_split`), and publishes a `refunded` settlement with
`refundOf`; the dispute record is then updated in place to `resolved`. `forfeit-payout`
moves the provider's payout to the treasury. Nothing moves if the provider can no longer
cover its share: the verdict is refused and the dispute stays open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.signing import sign_exchange_record, sign_settlement
from cocore.syntax import parse_at_uri

from . import db, events
from .formulas import refund_split
from .ledger_types import Kind, Result, Transfer
from .records import Charge, OutRecord, StrongRef, out_record, settlement_record, when
from .state import Batch, Keys, SettlementRow
from .writer import Tx

DISPUTES = db.DISPUTES
CATEGORIES = ("fraud", "non-delivery", "quality-failure", "processor-chargeback",
              "duplicate-charge", "other")  # fmt: skip
VERDICTS = ("refund-full", "refund-partial", "uphold-charge", "forfeit-payout")


@dataclass(frozen=True, slots=True)
class DisputeRefused:
    code: str  # settlement_not_found | dispute_not_found | dispute_conflict | insufficient_balance
    message: str


@dataclass(frozen=True, slots=True)
class DisputeDone:
    dispute: OutRecord
    refund: OutRecord | None = None


@dataclass
class OpenDisputeCommand:
    settlement_uri: str
    raised_by: str
    raised_at: datetime
    category: str
    detail: str | None
    evidence_cid: str | None
    key: SigningKey
    exclusive: bool = True
    _open: bool = False

    def keys(self) -> Keys:
        return Keys(settlement_uris={self.settlement_uri})

    async def prepare(self, tx: Tx) -> None:
        query = select(DISPUTES.c.uri).where(
            DISPUTES.c.settlement_uri == self.settlement_uri, DISPUTES.c.status == "open"
        )
        self._open = (await tx.conn.execute(query)).first() is not None

    def apply(self, batch: Batch) -> DisputeDone | DisputeRefused:
        settlement = batch.settlements_by_uri.get(self.settlement_uri)
        if settlement is None or settlement.status != "settled":
            return DisputeRefused("settlement_not_found", "no settled settlement at that URI")
        if self._open:
            return DisputeRefused("dispute_conflict", "this settlement already has an open dispute")
        reason: dict[str, Any] = {"category": self.category}
        if self.detail:
            reason["detail"] = self.detail
        record: dict[str, Any] = {
            "$type": ids.COMPUTE_DISPUTE, "settlement": settlement.ref.to_json(),
            "exchange": batch.context.exchange, "raisedBy": self.raised_by,
            "raisedAt": when(self.raised_at), "reason": reason, "status": "open",
            "createdAt": when(batch.now),
        }  # fmt: skip
        if self.evidence_cid:
            record["evidenceCid"] = self.evidence_cid
        signed = sign_exchange_record(record, self.key)
        out = out_record(batch.context.exchange, ids.COMPUTE_DISPUTE, batch.tid(), signed)
        batch.outbox.append(out)
        batch.inserts.append((DISPUTES, {
            "uri": out.uri, "settlement_uri": settlement.uri, "status": "open", "verdict": None,
            "refund_settlement_uri": None, "record": out.record, "created_at": batch.now,
            "resolved_at": None,
        }))  # fmt: skip
        return DisputeDone(out)


@dataclass
class ResolveDisputeCommand:
    dispute_uri: str
    verdict: str
    refund_amount: int  # for refund-partial; refund-full refunds what is left
    rationale: str | None
    key: SigningKey
    policy_refs: dict[str, StrongRef]  # every published policy version, by URI
    exclusive: bool = True
    _row: Any = None
    _keys: Keys = field(default_factory=Keys)

    def keys(self) -> Keys:
        return self._keys

    async def prepare(self, tx: Tx) -> None:
        query = select(DISPUTES).where(DISPUTES.c.uri == self.dispute_uri)
        self._row = (await tx.conn.execute(query)).first()
        if self._row is not None:
            self._keys = Keys(settlement_uris={self._row.settlement_uri})

    def apply(self, batch: Batch) -> DisputeDone | DisputeRefused:
        row = self._row
        if row is None:
            return DisputeRefused("dispute_not_found", "no dispute at that URI")
        if row.status != "open":
            return DisputeRefused("dispute_conflict", "the dispute is already resolved")
        settlement = batch.settlements_by_uri[row.settlement_uri]
        refund: OutRecord | None = None
        if self.verdict in ("refund-full", "refund-partial"):
            outcome = self._refund(batch, settlement)
            if isinstance(outcome, DisputeRefused):
                return outcome
            refund = outcome
        elif self.verdict == "forfeit-payout":
            refused = self._forfeit(batch, settlement)
            if refused is not None:
                return refused
        return DisputeDone(self._resolve(batch, row, refund), refund)

    def _refund(self, batch: Batch, s: SettlementRow) -> OutRecord | DisputeRefused:
        remaining = s.amount - s.refunded_amount
        amount = remaining if self.verdict == "refund-full" else self.refund_amount
        if (
            remaining <= 0
            or not 0 < amount <= remaining
            or (self.verdict == "refund-partial" and amount == remaining)
        ):
            message = f"refund {amount} of the {remaining} left is not possible"
            return DisputeRefused("nothing_to_refund", message)
        fee_back, payout_back = refund_split(amount, s.refunded_amount, s.amount, s.fee)
        context, refund_id = batch.context, f"refund:{self.dispute_uri}"
        legs = [
            Transfer(f"{refund_id}:payout", context.account(s.provider),
                     context.account(s.requester), payout_back, Kind.REFUND, reference=s.uri),
            Transfer(f"{refund_id}:fee", context.account(context.treasury),
                     context.account(s.requester), fee_back, Kind.REFUND, reference=s.uri),
        ]  # fmt: skip
        chain = [t for t in legs if t.amount > 0 and t.debit_account_id != t.credit_account_id]
        if chain and not all(r is Result.OK for r in batch.ledger.create_transfers(chain)):
            message = "the provider or treasury can no longer cover the refund"
            return DisputeRefused("insufficient_balance", message)
        return self._refund_record(batch, s, amount, fee_back, payout_back)

    def _refund_record(
        self, batch: Batch, s: SettlementRow, amount: int, fee_back: int, payout_back: int
    ) -> OutRecord:
        context = batch.context
        policy = self.policy_refs[s.policy_uri]  # the refund pins the original's policy
        record = settlement_record(
            receipt=StrongRef(s.receipt_uri, s.receipt_cid),
            authorization=StrongRef(s.auth_uri, s.auth_cid),
            charge=Charge(amount, fee_back, s.currency), transfer_id=f"refund:{self.dispute_uri}",
            policy=policy, attestation=context.attestation, settled_at=batch.now,
            refund_of=s.ref, payout_back=payout_back,
        )  # fmt: skip
        signed = sign_settlement(record, self.key)
        out = out_record(context.exchange, ids.COMPUTE_SETTLEMENT, batch.tid(), signed)
        batch.outbox.append(out)
        batch.add_settlement(SettlementRow(
            uri=out.uri, cid=out.cid, status="refunded", receipt_uri=s.receipt_uri,
            receipt_cid=s.receipt_cid, refund_of=s.uri, requester=s.requester,
            provider=s.provider, currency=s.currency, amount=amount, fee=fee_back,
            payout=payout_back, refunded_amount=0, completed_at=s.completed_at,
            policy_uri=s.policy_uri, auth_key=s.auth_key, auth_uri=s.auth_uri,
            auth_cid=s.auth_cid, hold_id=None, transfer_id=f"refund:{self.dispute_uri}",
            created_at=batch.now,
        ))  # fmt: skip
        batch.refunded[s.uri] = s.refunded_amount + amount
        events.refunded(amount)
        return out

    def _forfeit(self, batch: Batch, s: SettlementRow) -> DisputeRefused | None:
        context = batch.context
        if s.provider == context.treasury or s.payout == 0:
            return None
        forfeit = Transfer(f"forfeit:{self.dispute_uri}", context.account(s.provider),
                           context.account(context.treasury), s.payout, Kind.FORFEIT,
                           reference=s.uri)  # fmt: skip
        if batch.ledger.create_transfers([forfeit]) != [Result.OK]:
            return DisputeRefused("insufficient_balance", "the provider cannot cover its payout")
        return None

    def _resolve(self, batch: Batch, row: Any, refund: OutRecord | None) -> OutRecord:
        outcome: dict[str, Any] = {"verdict": self.verdict, "decidedAt": when(batch.now)}
        if refund is not None:
            outcome["refundSettlement"] = refund.ref.to_json()
        if self.rationale:
            outcome["rationale"] = self.rationale
        body = {k: v for k, v in row.record.items() if k != "sig"}
        body.update(status="resolved", outcome=outcome)
        signed = sign_exchange_record(body, self.key)
        rkey = parse_at_uri(row.uri).rkey
        out = out_record(batch.context.exchange, ids.COMPUTE_DISPUTE, rkey, signed)
        batch.outbox.append(out)
        batch.updates.append((DISPUTES, {"uri": row.uri}, {
            "status": "resolved", "verdict": self.verdict, "record": out.record,
            "refund_settlement_uri": refund.uri if refund else None, "resolved_at": batch.now,
        }))  # fmt: skip
        return out
