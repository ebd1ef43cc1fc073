"""`ExchangeServicer`: authenticates each call, converts proto ↔ domain, calls `Exchange`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cocore.lexicon import ids
from cocore.proto.exchange.v1 import exchange_pb2 as pb
from cocore.proto.exchange.v1 import exchange_pb2_grpc
from cocore.syntax import parse_at_uri, parse_datetime

from . import convert
from .auth import Authenticator, Caller, require_operator, require_owner, require_service
from .errors import InvalidRecord
from .exchange import Exchange, Refusal
from .reconcile import Report
from .records import when
from .settlement import Settled

SERVICE = "/cocore.exchange.v1.Exchange/"
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class KeyInfo:
    jwk: dict[str, Any]
    fingerprint: str
    multibase: str


class ExchangeServicer(exchange_pb2_grpc.ExchangeServicer):
    def __init__(
        self,
        exchange: Exchange,
        auth: Authenticator,
        key: KeyInfo,
        deep_reconcile: Callable[[], Awaitable[Report]] | None = None,
    ) -> None:
        self.exchange = exchange
        self.auth = auth
        self.key = key
        self.deep_reconcile = deep_reconcile

    async def _caller(self, context: Any, method: str) -> Caller:
        return await self.auth.authenticate(context.invocation_metadata() or (), SERVICE + method)

    async def Admit(self, request: pb.AdmitRequest, context: Any) -> pb.AdmitResponse:
        require_service(await self._caller(context, "Admit"))
        requester = convert.did(request.requester_did, "requester_did")
        ceiling = request.price_ceiling
        currency = self.exchange.policies.current.terms.currency
        if ceiling.currency != currency or ceiling.amount < 0:
            raise InvalidRecord(f"price_ceiling must be a non-negative amount of {currency}",
                                code="unsupported_currency")  # fmt: skip
        if not request.idempotency_key or len(request.idempotency_key) > 256:
            raise InvalidRecord("idempotency_key is required (at most 256 characters)")
        admitted = await self.exchange.admit(
            requester, ceiling.amount, request.idempotency_key,
            convert.optional_uri(request.job_uri), request.ttl_seconds,
        )  # fmt: skip
        return pb.AdmitResponse(
            hold_id=admitted.hold_id or "", amount=admitted.amount,
            expires_at=when(admitted.expires_at) if admitted.expires_at else "",
            balance=admitted.balance, available=admitted.available, granted=admitted.granted,
            replayed=admitted.replayed,
            policy=convert.strong_ref(self.exchange.policies.current.ref),
        )  # fmt: skip

    async def Release(self, request: pb.ReleaseRequest, context: Any) -> pb.ReleaseResponse:
        require_service(await self._caller(context, "Release"))
        if not request.hold_id:
            raise InvalidRecord("hold_id is required")
        return convert.release(await self.exchange.release(request.hold_id))

    async def Settle(self, request: pb.SettleRequest, context: Any) -> pb.SettleResponse:
        require_service(await self._caller(context, "Settle"))
        receipt = convert.record_json(request.receipt, "receipt")
        if receipt is None or not request.receipt.uri:
            raise InvalidRecord("receipt.uri and receipt.record are required")
        uri = parse_at_uri(request.receipt.uri)
        if uri.collection != ids.COMPUTE_RECEIPT:
            raise InvalidRecord(f"receipt.uri must name a {ids.COMPUTE_RECEIPT} record")
        bundle = await self.exchange.assemble(
            uri, receipt,
            receipt_cid=request.receipt.cid or None,
            job=convert.record_json(request.job, "job"),
            authorization=convert.record_json(request.authorization, "authorization"),
            attestation=convert.record_json(request.attestation, "attestation"),
            hold_hint=request.hold_id or None,
        )  # fmt: skip
        outcome = await self.exchange.settle(bundle)
        if isinstance(outcome, Refusal):
            return pb.SettleResponse(result=pb.SETTLE_RESULT_REFUSED,
                                     findings=convert.findings(outcome.findings),
                                     retryable=outcome.retryable)  # fmt: skip
        return _settled(outcome)

    async def SignTermsAcceptance(
        self, request: pb.SignTermsAcceptanceRequest, context: Any
    ) -> pb.SignTermsAcceptanceResponse:
        require_service(await self._caller(context, "SignTermsAcceptance"))
        user = convert.did(request.user_did, "user_did")
        record = self.exchange.sign_terms_acceptance(
            user, request.user_agent or None, convert.optional_time(request.accepted_at)
        )
        return pb.SignTermsAcceptanceResponse(
            acceptance=convert.loose_record(record, convert.terms_collection())
        )

    async def GetBalance(
        self, request: pb.GetBalanceRequest, context: Any
    ) -> pb.GetBalanceResponse:
        did = convert.did(request.did, "did")
        caller = await self._caller(context, "GetBalance")
        require_owner(caller, did)
        view = await self.exchange.balance(did, touch=caller.acting_for == did)
        return pb.GetBalanceResponse(
            did=view.did, member=view.member, balance=view.balance, available=view.available,
            held=view.held, granted_at=when(view.granted_at) if view.granted_at else "",
            next_refresh_at=when(view.next_refresh_at) if view.next_refresh_at else "",
            currency=self.exchange.policies.current.terms.currency,
        )  # fmt: skip

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: Any
    ) -> pb.ListEventsResponse:
        did = convert.did(request.did, "did")
        require_owner(await self._caller(context, "ListEvents"), did)
        size = min(request.page_size or 50, MAX_PAGE)
        before = _page_token(request.page_token)
        entries = await self.exchange.journal(did, size, before)
        account = f"{self.exchange.policies.current.terms.currency}:{did}"
        token = str(entries[-1].seq) if len(entries) == size else ""
        return pb.ListEventsResponse(
            events=[convert.ledger_event(e, account) for e in entries], next_page_token=token
        )

    async def GetPolicy(self, request: pb.GetPolicyRequest, context: Any) -> pb.GetPolicyResponse:
        await self._caller(context, "GetPolicy")  # any valid credential
        policies = self.exchange.policies
        policy = policies.current
        attestation = policies.attestation_for(policy)
        return pb.GetPolicyResponse(
            exchange_did=self.exchange.did,
            policy=convert.stored_record(policy.ref.uri, policy.ref.cid,
                                         policies.records[policy.ref.uri]),
            attestation=convert.stored_record(attestation.uri, attestation.cid,
                                              policies.records[attestation.uri]),
            signing_key_jwk=json.dumps(self.key.jwk, sort_keys=True),
            signing_key_fingerprint=self.key.fingerprint, signing_key_multibase=self.key.multibase,
        )  # fmt: skip

    async def Reconcile(self, request: pb.ReconcileRequest, context: Any) -> pb.ReconcileResponse:
        require_operator(await self._caller(context, "Reconcile"))
        if request.deep and self.deep_reconcile is not None:
            report = await self.deep_reconcile()
        else:
            report = await self.exchange.reconcile()
        return pb.ReconcileResponse(
            ok=report.ok,
            drifts=[pb.Drift(code=d.code, subject=d.subject, message=d.message)
                    for d in report.drifts],
            stats=report.stats, checked_at=when(report.checked_at),
            oldest_pending_outbox=when(report.oldest_pending_outbox)
            if report.oldest_pending_outbox else "",
        )  # fmt: skip

    async def DistributePatronage(
        self, request: pb.DistributePatronageRequest, context: Any
    ) -> pb.DistributePatronageResponse:
        require_operator(await self._caller(context, "DistributePatronage"))
        start, end = parse_datetime(request.start).value, parse_datetime(request.end).value
        result = await self.exchange.distribute_patronage(start, end)
        credits = [pb.PatronageCredit(did=d, score=result.scores[d], credited=c)
                   for d, c in sorted(result.credits.items())]  # fmt: skip
        return pb.DistributePatronageResponse(
            already_distributed=result.already_distributed, treasury_before=result.treasury_before,
            total_score=result.total_score, distributed=result.distributed, credits=credits,
        )  # fmt: skip

    async def OpenDispute(self, request: pb.OpenDisputeRequest, context: Any) -> pb.DisputeResponse:
        require_operator(await self._caller(context, "OpenDispute"))
        done = await self.exchange.open_dispute(
            settlement_uri=parse_at_uri(request.settlement_uri),
            raised_by=convert.did(request.raised_by, "raised_by"),
            raised_at=convert.optional_time(request.raised_at), category=request.category,
            detail=request.detail or None, evidence_cid=request.evidence_cid or None,
        )  # fmt: skip
        return pb.DisputeResponse(dispute=convert.record_message(done.dispute))

    async def ResolveDispute(
        self, request: pb.ResolveDisputeRequest, context: Any
    ) -> pb.DisputeResponse:
        require_operator(await self._caller(context, "ResolveDispute"))
        done = await self.exchange.resolve_dispute(
            parse_at_uri(request.dispute_uri), request.verdict, request.refund_amount,
            request.rationale or None,
        )  # fmt: skip
        response = pb.DisputeResponse(dispute=convert.record_message(done.dispute))
        if done.refund is not None:
            response.refund_settlement.CopyFrom(convert.record_message(done.refund))
        return response

    async def ListUnsettled(
        self, request: pb.ListUnsettledRequest, context: Any
    ) -> pb.ListUnsettledResponse:
        require_operator(await self._caller(context, "ListUnsettled"))
        rows = await self.exchange.unsettled(min(request.page_size or 100, MAX_PAGE))
        return pb.ListUnsettledResponse(receipts=[
            pb.Unsettled(receipt_uri=r.receipt_uri, codes=list(r.codes), retryable=r.retryable,
                         attempts=r.attempts, last_seen=when(r.last_seen))
            for r in rows
        ])  # fmt: skip


def _settled(s: Settled) -> pb.SettleResponse:
    result = pb.SETTLE_RESULT_ALREADY_SETTLED if s.duplicate else pb.SETTLE_RESULT_SETTLED
    return pb.SettleResponse(
        result=result, settlement=convert.strong_ref(s.settlement), amount=s.amount, fee=s.fee,
        payout=s.payout, hold_id=s.hold_id or "",
    )  # fmt: skip


def _page_token(token: str) -> int | None:
    if not token:
        return None
    if not token.isdigit():
        raise InvalidRecord("page_token is not one this service issued")
    return int(token)
