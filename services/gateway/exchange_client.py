"""The exchange as the gateway calls it (the one module that speaks its proto)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc

from cocore.canonical import canonicalize, loads_strict
from cocore.errors import FailedPrecondition, InvalidInput
from cocore.proto.common.v1 import common_pb2
from cocore.proto.exchange.v1 import exchange_pb2 as pb
from cocore.proto.exchange.v1 import exchange_pb2_grpc
from cocore.rpc import error_from_rpc

from .errors import InsufficientBalance, InvalidRequest, Unavailable
from .policy import Policy, policy_from
from .records import Placed

log = logging.getLogger("cocore.gateway")
ACTOR_HEADER = "x-cocore-actor-did"
CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str  # empty: nothing was held (a zero ceiling)
    amount: int


NO_HOLD = Hold("", 0)


@dataclass(frozen=True, slots=True)
class Settled:
    settled: bool
    settlement_uri: str
    amount: int
    fee: int
    payout: int
    codes: tuple[str, ...]
    retryable: bool


@dataclass(frozen=True, slots=True)
class Balance:
    balance: int
    available: int
    held: int
    currency: str


class ExchangeClient:
    def __init__(self, address: str, token: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = exchange_pb2_grpc.ExchangeStub(self.channel)
        self._auth = (("authorization", f"Bearer {token}"),)

    async def aclose(self) -> None:
        await self.channel.close()

    async def policy(self) -> Policy:
        r = await self._call(self.stub.GetPolicy, pb.GetPolicyRequest())
        return policy_from(r.exchange_did, r.policy.uri, r.policy.cid, r.policy.record,
                           r.signing_key_jwk)  # fmt: skip

    async def admit(
        self, *, did: str, amount: int, currency: str, key: str, job_uri: str, ttl_s: int
    ) -> Hold:
        request = pb.AdmitRequest(
            requester_did=did, price_ceiling=common_pb2.Money(amount=amount, currency=currency),
            idempotency_key=key, job_uri=job_uri, ttl_seconds=ttl_s,
        )  # fmt: skip
        try:
            r = await self._call(self.stub.Admit, request)
        except FailedPrecondition as e:
            if e.code != "insufficient_balance":
                raise Unavailable(f"the exchange refused the hold: {e.message}") from e
            raise InsufficientBalance(
                f"insufficient balance: this request can cost up to {amount} {currency}, "
                f"and the balance must stay above the exchange's floor",
                details={k: _int(v) for k, v in e.details.items()},
            ) from e
        return Hold(r.hold_id, r.amount)

    async def release(self, hold_id: str) -> bool:
        """Void a hold; never raises (an unreleased hold expires by itself)."""
        if not hold_id:
            return False
        try:
            r = await self._call(self.stub.Release, pb.ReleaseRequest(hold_id=hold_id))
        except (Unavailable, InvalidRequest) as e:
            log.warning("hold_release_failed code=%s", e.code)
            return False
        return bool(r.changed)

    async def settle(
        self, receipt: Placed, job: Placed, authorization: Placed, hold_id: str
    ) -> Settled:
        request = pb.SettleRequest(
            receipt=_record(receipt), job=_record(job), authorization=_record(authorization),
            hold_id=hold_id,
        )  # fmt: skip
        r = await self._call(self.stub.Settle, request)
        settled = r.result in (pb.SETTLE_RESULT_SETTLED, pb.SETTLE_RESULT_ALREADY_SETTLED)
        return Settled(settled, r.settlement.uri, r.amount, r.fee, r.payout,
                       tuple(f.code for f in r.findings), r.retryable)  # fmt: skip

    async def sign_terms(self, did: str, user_agent: str) -> dict[str, Any]:
        request = pb.SignTermsAcceptanceRequest(user_did=did, user_agent=user_agent)
        r = await self._call(self.stub.SignTermsAcceptance, request)
        record: dict[str, Any] = loads_strict(r.acceptance.record)
        return record

    async def balance(self, did: str) -> Balance:
        r = await self._call(
            self.stub.GetBalance, pb.GetBalanceRequest(did=did), ((ACTOR_HEADER, did),)
        )
        return Balance(r.balance, r.available, r.held, r.currency)

    async def _call(
        self, method: Any, request: Any, extra: tuple[tuple[str, str], ...] = ()
    ) -> Any:
        try:
            return await method(request, metadata=self._auth + extra, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            error = error_from_rpc(e)
            if isinstance(error, FailedPrecondition):
                raise error from None
            if isinstance(error, InvalidInput):
                raise InvalidRequest(f"the exchange refused: {error.message}",
                                     code=error.code) from None  # fmt: skip
            raise Unavailable(f"the exchange is unavailable ({error.code})",
                              code="exchange_unavailable") from None  # fmt: skip


def _record(placed: Placed) -> common_pb2.Record:
    return common_pb2.Record(uri=placed.uri, cid=placed.cid, record=canonicalize(placed.record))


def _int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
