from cocore.proto.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_PENDING: _ClassVar[HoldStatus]
    HOLD_STATUS_POSTED: _ClassVar[HoldStatus]
    HOLD_STATUS_VOIDED: _ClassVar[HoldStatus]
    HOLD_STATUS_EXPIRED: _ClassVar[HoldStatus]

class SettleResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLE_RESULT_UNSPECIFIED: _ClassVar[SettleResult]
    SETTLE_RESULT_SETTLED: _ClassVar[SettleResult]
    SETTLE_RESULT_ALREADY_SETTLED: _ClassVar[SettleResult]
    SETTLE_RESULT_REFUSED: _ClassVar[SettleResult]
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_PENDING: HoldStatus
HOLD_STATUS_POSTED: HoldStatus
HOLD_STATUS_VOIDED: HoldStatus
HOLD_STATUS_EXPIRED: HoldStatus
SETTLE_RESULT_UNSPECIFIED: SettleResult
SETTLE_RESULT_SETTLED: SettleResult
SETTLE_RESULT_ALREADY_SETTLED: SettleResult
SETTLE_RESULT_REFUSED: SettleResult

class AdmitRequest(_message.Message):
    __slots__ = ("requester_did", "price_ceiling", "idempotency_key", "job_uri", "ttl_seconds")
    REQUESTER_DID_FIELD_NUMBER: _ClassVar[int]
    PRICE_CEILING_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    JOB_URI_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    requester_did: str
    price_ceiling: _common_pb2.Money
    idempotency_key: str
    job_uri: str
    ttl_seconds: int
    def __init__(self, requester_did: _Optional[str] = ..., price_ceiling: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., job_uri: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class AdmitResponse(_message.Message):
    __slots__ = ("hold_id", "amount", "expires_at", "balance", "available", "granted", "replayed", "policy")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    amount: int
    expires_at: str
    balance: int
    available: int
    granted: bool
    replayed: bool
    policy: _common_pb2.StrongRef
    def __init__(self, hold_id: _Optional[str] = ..., amount: _Optional[int] = ..., expires_at: _Optional[str] = ..., balance: _Optional[int] = ..., available: _Optional[int] = ..., granted: _Optional[bool] = ..., replayed: _Optional[bool] = ..., policy: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("hold_id",)
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    def __init__(self, hold_id: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("hold_id", "amount", "status", "changed")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    amount: int
    status: HoldStatus
    changed: bool
    def __init__(self, hold_id: _Optional[str] = ..., amount: _Optional[int] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., changed: _Optional[bool] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("receipt", "job", "authorization", "attestation", "hold_id")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Record
    job: _common_pb2.Record
    authorization: _common_pb2.Record
    attestation: _common_pb2.Record
    hold_id: str
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., job: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., authorization: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., attestation: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., hold_id: _Optional[str] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("result", "settlement", "amount", "fee", "payout", "hold_id", "findings", "retryable")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    result: SettleResult
    settlement: _common_pb2.StrongRef
    amount: int
    fee: int
    payout: int
    hold_id: str
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    retryable: bool
    def __init__(self, result: _Optional[_Union[SettleResult, str]] = ..., settlement: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., amount: _Optional[int] = ..., fee: _Optional[int] = ..., payout: _Optional[int] = ..., hold_id: _Optional[str] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ..., retryable: _Optional[bool] = ...) -> None: ...

class SignTermsAcceptanceRequest(_message.Message):
    __slots__ = ("user_did", "user_agent", "accepted_at")
    USER_DID_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    user_did: str
    user_agent: str
    accepted_at: str
    def __init__(self, user_did: _Optional[str] = ..., user_agent: _Optional[str] = ..., accepted_at: _Optional[str] = ...) -> None: ...

class SignTermsAcceptanceResponse(_message.Message):
    __slots__ = ("acceptance",)
    ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    acceptance: _common_pb2.Record
    def __init__(self, acceptance: _Optional[_Union[_common_pb2.Record, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("did",)
    DID_FIELD_NUMBER: _ClassVar[int]
    did: str
    def __init__(self, did: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("did", "member", "balance", "available", "held", "granted_at", "next_refresh_at", "currency")
    DID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_REFRESH_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    did: str
    member: bool
    balance: int
    available: int
    held: int
    granted_at: str
    next_refresh_at: str
    currency: str
    def __init__(self, did: _Optional[str] = ..., member: _Optional[bool] = ..., balance: _Optional[int] = ..., available: _Optional[int] = ..., held: _Optional[int] = ..., granted_at: _Optional[str] = ..., next_refresh_at: _Optional[str] = ..., currency: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("did", "page_size", "page_token")
    DID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    did: str
    page_size: int
    page_token: str
    def __init__(self, did: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class LedgerEvent(_message.Message):
    __slots__ = ("seq", "transfer_id", "kind", "amount", "balance_delta", "phase", "counterparty", "reference", "timestamp")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_DELTA_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    seq: int
    transfer_id: str
    kind: str
    amount: int
    balance_delta: int
    phase: str
    counterparty: str
    reference: str
    timestamp: str
    def __init__(self, seq: _Optional[int] = ..., transfer_id: _Optional[str] = ..., kind: _Optional[str] = ..., amount: _Optional[int] = ..., balance_delta: _Optional[int] = ..., phase: _Optional[str] = ..., counterparty: _Optional[str] = ..., reference: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[LedgerEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[LedgerEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("exchange_did", "policy", "attestation", "signing_key_jwk", "signing_key_fingerprint", "signing_key_multibase")
    EXCHANGE_DID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_JWK_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_MULTIBASE_FIELD_NUMBER: _ClassVar[int]
    exchange_did: str
    policy: _common_pb2.Record
    attestation: _common_pb2.Record
    signing_key_jwk: str
    signing_key_fingerprint: str
    signing_key_multibase: str
    def __init__(self, exchange_did: _Optional[str] = ..., policy: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., attestation: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., signing_key_jwk: _Optional[str] = ..., signing_key_fingerprint: _Optional[str] = ..., signing_key_multibase: _Optional[str] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("deep",)
    DEEP_FIELD_NUMBER: _ClassVar[int]
    deep: bool
    def __init__(self, deep: _Optional[bool] = ...) -> None: ...

class Drift(_message.Message):
    __slots__ = ("code", "subject", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    subject: str
    message: str
    def __init__(self, code: _Optional[str] = ..., subject: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("ok", "drifts", "stats", "checked_at", "oldest_pending_outbox")
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    OK_FIELD_NUMBER: _ClassVar[int]
    DRIFTS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_OUTBOX_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    drifts: _containers.RepeatedCompositeFieldContainer[Drift]
    stats: _containers.ScalarMap[str, int]
    checked_at: str
    oldest_pending_outbox: str
    def __init__(self, ok: _Optional[bool] = ..., drifts: _Optional[_Iterable[_Union[Drift, _Mapping]]] = ..., stats: _Optional[_Mapping[str, int]] = ..., checked_at: _Optional[str] = ..., oldest_pending_outbox: _Optional[str] = ...) -> None: ...

class DistributePatronageRequest(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class PatronageCredit(_message.Message):
    __slots__ = ("did", "score", "credited")
    DID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CREDITED_FIELD_NUMBER: _ClassVar[int]
    did: str
    score: int
    credited: int
    def __init__(self, did: _Optional[str] = ..., score: _Optional[int] = ..., credited: _Optional[int] = ...) -> None: ...

class DistributePatronageResponse(_message.Message):
    __slots__ = ("already_distributed", "treasury_before", "total_score", "distributed", "credits")
    ALREADY_DISTRIBUTED_FIELD_NUMBER: _ClassVar[int]
    TREASURY_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    already_distributed: bool
    treasury_before: int
    total_score: int
    distributed: int
    credits: _containers.RepeatedCompositeFieldContainer[PatronageCredit]
    def __init__(self, already_distributed: _Optional[bool] = ..., treasury_before: _Optional[int] = ..., total_score: _Optional[int] = ..., distributed: _Optional[int] = ..., credits: _Optional[_Iterable[_Union[PatronageCredit, _Mapping]]] = ...) -> None: ...

class OpenDisputeRequest(_message.Message):
    __slots__ = ("settlement_uri", "raised_by", "raised_at", "category", "detail", "evidence_cid")
    SETTLEMENT_URI_FIELD_NUMBER: _ClassVar[int]
    RAISED_BY_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_CID_FIELD_NUMBER: _ClassVar[int]
    settlement_uri: str
    raised_by: str
    raised_at: str
    category: str
    detail: str
    evidence_cid: str
    def __init__(self, settlement_uri: _Optional[str] = ..., raised_by: _Optional[str] = ..., raised_at: _Optional[str] = ..., category: _Optional[str] = ..., detail: _Optional[str] = ..., evidence_cid: _Optional[str] = ...) -> None: ...

class ResolveDisputeRequest(_message.Message):
    __slots__ = ("dispute_uri", "verdict", "refund_amount", "rationale")
    DISPUTE_URI_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    dispute_uri: str
    verdict: str
    refund_amount: int
    rationale: str
    def __init__(self, dispute_uri: _Optional[str] = ..., verdict: _Optional[str] = ..., refund_amount: _Optional[int] = ..., rationale: _Optional[str] = ...) -> None: ...

class DisputeResponse(_message.Message):
    __slots__ = ("dispute", "refund_settlement")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    REFUND_SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    dispute: _common_pb2.Record
    refund_settlement: _common_pb2.Record
    def __init__(self, dispute: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., refund_settlement: _Optional[_Union[_common_pb2.Record, _Mapping]] = ...) -> None: ...

class ListUnsettledRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class Unsettled(_message.Message):
    __slots__ = ("receipt_uri", "codes", "retryable", "attempts", "last_seen")
    RECEIPT_URI_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    receipt_uri: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    retryable: bool
    attempts: int
    last_seen: str
    def __init__(self, receipt_uri: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ..., retryable: _Optional[bool] = ..., attempts: _Optional[int] = ..., last_seen: _Optional[str] = ...) -> None: ...

class ListUnsettledResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[Unsettled]
    def __init__(self, receipts: _Optional[_Iterable[_Union[Unsettled, _Mapping]]] = ...) -> None: ...
