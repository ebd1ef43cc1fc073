from cocore.proto.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_CONTENT: _ClassVar[Channel]
    CHANNEL_REASONING: _ClassVar[Channel]
    CHANNEL_TOOL_CALL: _ClassVar[Channel]

class ResumeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESUME_STATUS_UNSPECIFIED: _ClassVar[ResumeStatus]
    RESUME_STATUS_RESUME: _ClassVar[ResumeStatus]
    RESUME_STATUS_COMPLETED: _ClassVar[ResumeStatus]
    RESUME_STATUS_REJECTED: _ClassVar[ResumeStatus]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_CONTENT: Channel
CHANNEL_REASONING: Channel
CHANNEL_TOOL_CALL: Channel
RESUME_STATUS_UNSPECIFIED: ResumeStatus
RESUME_STATUS_RESUME: ResumeStatus
RESUME_STATUS_COMPLETED: ResumeStatus
RESUME_STATUS_REJECTED: ResumeStatus

class ModelInfo(_message.Message):
    __slots__ = ("id", "context_length", "tools")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    id: str
    context_length: int
    tools: bool
    def __init__(self, id: _Optional[str] = ..., context_length: _Optional[int] = ..., tools: _Optional[bool] = ...) -> None: ...

class ProBono(_message.Message):
    __slots__ = ("mode", "dids")
    MODE_FIELD_NUMBER: _ClassVar[int]
    DIDS_FIELD_NUMBER: _ClassVar[int]
    mode: str
    dids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[str] = ..., dids: _Optional[_Iterable[str]] = ...) -> None: ...

class SamplingParams(_message.Message):
    __slots__ = ("max_tokens", "temperature_milli", "top_p_milli", "seed")
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_MILLI_FIELD_NUMBER: _ClassVar[int]
    TOP_P_MILLI_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    max_tokens: int
    temperature_milli: int
    top_p_milli: int
    seed: int
    def __init__(self, max_tokens: _Optional[int] = ..., temperature_milli: _Optional[int] = ..., top_p_milli: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("tokens_in", "tokens_out", "reasoning_tokens")
    TOKENS_IN_FIELD_NUMBER: _ClassVar[int]
    TOKENS_OUT_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens_in: int
    tokens_out: int
    reasoning_tokens: int
    def __init__(self, tokens_in: _Optional[int] = ..., tokens_out: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ...) -> None: ...

class OutputCommitments(_message.Message):
    __slots__ = ("output", "reasoning", "output_cipher")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CIPHER_FIELD_NUMBER: _ClassVar[int]
    output: str
    reasoning: str
    output_cipher: str
    def __init__(self, output: _Optional[str] = ..., reasoning: _Optional[str] = ..., output_cipher: _Optional[str] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("channel", "sealed")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    channel: Channel
    sealed: bytes
    def __init__(self, channel: _Optional[_Union[Channel, str]] = ..., sealed: _Optional[bytes] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("requester_did", "model", "input_format", "sampling", "stop", "tools_json", "tool_choice", "tool_choice_function", "output_schema_json", "job", "authorization", "price_ceiling", "pro_bono")
    REQUESTER_DID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TOOLS_JSON_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    PRICE_CEILING_FIELD_NUMBER: _ClassVar[int]
    PRO_BONO_FIELD_NUMBER: _ClassVar[int]
    requester_did: str
    model: str
    input_format: str
    sampling: SamplingParams
    stop: _containers.RepeatedScalarFieldContainer[str]
    tools_json: bytes
    tool_choice: str
    tool_choice_function: str
    output_schema_json: bytes
    job: _common_pb2.StrongRef
    authorization: _common_pb2.StrongRef
    price_ceiling: _common_pb2.Money
    pro_bono: bool
    def __init__(self, requester_did: _Optional[str] = ..., model: _Optional[str] = ..., input_format: _Optional[str] = ..., sampling: _Optional[_Union[SamplingParams, _Mapping]] = ..., stop: _Optional[_Iterable[str]] = ..., tools_json: _Optional[bytes] = ..., tool_choice: _Optional[str] = ..., tool_choice_function: _Optional[str] = ..., output_schema_json: _Optional[bytes] = ..., job: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., authorization: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., price_ceiling: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., pro_bono: _Optional[bool] = ...) -> None: ...

class ProviderFrame(_message.Message):
    __slots__ = ("register", "challenge_response", "heartbeat", "accepted", "chunks", "keepalive", "complete", "failed", "resume", "pong", "attestation_updated", "provider_updated", "draining")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_UPDATED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_UPDATED_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    register: Register
    challenge_response: ChallengeResponse
    heartbeat: Heartbeat
    accepted: JobAccepted
    chunks: JobChunks
    keepalive: JobKeepalive
    complete: JobComplete
    failed: JobFailed
    resume: JobResume
    pong: Pong
    attestation_updated: AttestationUpdated
    provider_updated: ProviderUpdated
    draining: Draining
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., challenge_response: _Optional[_Union[ChallengeResponse, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., accepted: _Optional[_Union[JobAccepted, _Mapping]] = ..., chunks: _Optional[_Union[JobChunks, _Mapping]] = ..., keepalive: _Optional[_Union[JobKeepalive, _Mapping]] = ..., complete: _Optional[_Union[JobComplete, _Mapping]] = ..., failed: _Optional[_Union[JobFailed, _Mapping]] = ..., resume: _Optional[_Union[JobResume, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., attestation_updated: _Optional[_Union[AttestationUpdated, _Mapping]] = ..., provider_updated: _Optional[_Union[ProviderUpdated, _Mapping]] = ..., draining: _Optional[_Union[Draining, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("did", "machine_id", "auth_jwt", "attestation_pub_key", "attestation", "encryption_pub_key", "enc_scheme", "models", "slots", "binary_version", "country", "pro_bono", "stream_resume_version", "machine_label")
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_JWT_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    BINARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PRO_BONO_FIELD_NUMBER: _ClassVar[int]
    STREAM_RESUME_VERSION_FIELD_NUMBER: _ClassVar[int]
    MACHINE_LABEL_FIELD_NUMBER: _ClassVar[int]
    did: str
    machine_id: str
    auth_jwt: str
    attestation_pub_key: str
    attestation: _common_pb2.StrongRef
    encryption_pub_key: str
    enc_scheme: str
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    slots: int
    binary_version: str
    country: str
    pro_bono: ProBono
    stream_resume_version: int
    machine_label: str
    def __init__(self, did: _Optional[str] = ..., machine_id: _Optional[str] = ..., auth_jwt: _Optional[str] = ..., attestation_pub_key: _Optional[str] = ..., attestation: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., encryption_pub_key: _Optional[str] = ..., enc_scheme: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., slots: _Optional[int] = ..., binary_version: _Optional[str] = ..., country: _Optional[str] = ..., pro_bono: _Optional[_Union[ProBono, _Mapping]] = ..., stream_resume_version: _Optional[int] = ..., machine_label: _Optional[str] = ...) -> None: ...

class Challenge(_message.Message):
    __slots__ = ("nonce", "timestamp")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    timestamp: str
    def __init__(self, nonce: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...

class ChallengeResponse(_message.Message):
    __slots__ = ("nonce", "timestamp", "signature", "sip_enabled", "hypervisor_present")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    HYPERVISOR_PRESENT_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    timestamp: str
    signature: bytes
    sip_enabled: bool
    hypervisor_present: bool
    def __init__(self, nonce: _Optional[str] = ..., timestamp: _Optional[str] = ..., signature: _Optional[bytes] = ..., sip_enabled: _Optional[bool] = ..., hypervisor_present: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("free_slots", "running_jobs", "queued", "load")
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    free_slots: int
    running_jobs: int
    queued: int
    load: float
    def __init__(self, free_slots: _Optional[int] = ..., running_jobs: _Optional[int] = ..., queued: _Optional[int] = ..., load: _Optional[float] = ...) -> None: ...

class JobAccepted(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobChunks(_message.Message):
    __slots__ = ("job_id", "first_seq", "chunks")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    first_seq: int
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    def __init__(self, job_id: _Optional[str] = ..., first_seq: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ...) -> None: ...

class JobKeepalive(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobComplete(_message.Message):
    __slots__ = ("job_id", "final_seq", "usage", "finish_reason", "receipt", "commitments")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FINAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    final_seq: int
    usage: Usage
    finish_reason: str
    receipt: _common_pb2.StrongRef
    commitments: OutputCommitments
    def __init__(self, job_id: _Optional[str] = ..., final_seq: _Optional[int] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., finish_reason: _Optional[str] = ..., receipt: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., commitments: _Optional[_Union[OutputCommitments, _Mapping]] = ...) -> None: ...

class JobFailed(_message.Message):
    __slots__ = ("job_id", "code", "message")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    code: str
    message: str
    def __init__(self, job_id: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class JobResume(_message.Message):
    __slots__ = ("job_id", "resume_token", "produced_seq")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_SEQ_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    resume_token: str
    produced_seq: int
    def __init__(self, job_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., produced_seq: _Optional[int] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    def __init__(self, nonce: _Optional[str] = ...) -> None: ...

class AttestationUpdated(_message.Message):
    __slots__ = ("attestation",)
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    attestation: _common_pb2.StrongRef
    def __init__(self, attestation: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ...) -> None: ...

class ProviderUpdated(_message.Message):
    __slots__ = ("models", "slots", "country", "pro_bono")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PRO_BONO_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    slots: int
    country: str
    pro_bono: ProBono
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., slots: _Optional[int] = ..., country: _Optional[str] = ..., pro_bono: _Optional[_Union[ProBono, _Mapping]] = ...) -> None: ...

class Draining(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class MatchmakerFrame(_message.Message):
    __slots__ = ("challenge", "registered", "job", "ack", "resume_result", "cancel", "ping", "notice")
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    RESUME_RESULT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    challenge: Challenge
    registered: Registered
    job: JobRequest
    ack: JobAck
    resume_result: ResumeResult
    cancel: CancelJob
    ping: Ping
    notice: Notice
    def __init__(self, challenge: _Optional[_Union[Challenge, _Mapping]] = ..., registered: _Optional[_Union[Registered, _Mapping]] = ..., job: _Optional[_Union[JobRequest, _Mapping]] = ..., ack: _Optional[_Union[JobAck, _Mapping]] = ..., resume_result: _Optional[_Union[ResumeResult, _Mapping]] = ..., cancel: _Optional[_Union[CancelJob, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("replica_id", "heartbeat_interval_ms", "max_chunk_bytes", "window_chunks", "resume_grace_ms")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    RESUME_GRACE_MS_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    heartbeat_interval_ms: int
    max_chunk_bytes: int
    window_chunks: int
    resume_grace_ms: int
    def __init__(self, replica_id: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ..., max_chunk_bytes: _Optional[int] = ..., window_chunks: _Optional[int] = ..., resume_grace_ms: _Optional[int] = ...) -> None: ...

class JobRequest(_message.Message):
    __slots__ = ("job_id", "resume_token", "spec", "sealed_input", "requester_pub_key", "enc_scheme")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SEALED_INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    resume_token: str
    spec: JobSpec
    sealed_input: bytes
    requester_pub_key: str
    enc_scheme: str
    def __init__(self, job_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., sealed_input: _Optional[bytes] = ..., requester_pub_key: _Optional[str] = ..., enc_scheme: _Optional[str] = ...) -> None: ...

class JobAck(_message.Message):
    __slots__ = ("job_id", "next_seq", "completed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQ_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    next_seq: int
    completed: bool
    def __init__(self, job_id: _Optional[str] = ..., next_seq: _Optional[int] = ..., completed: _Optional[bool] = ...) -> None: ...

class ResumeResult(_message.Message):
    __slots__ = ("job_id", "status", "next_seq", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: ResumeStatus
    next_seq: int
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[_Union[ResumeStatus, str]] = ..., next_seq: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelJob(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    def __init__(self, nonce: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("kind", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    reason: str
    def __init__(self, kind: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ProviderKey(_message.Message):
    __slots__ = ("did", "machine_id")
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    did: str
    machine_id: str
    def __init__(self, did: _Optional[str] = ..., machine_id: _Optional[str] = ...) -> None: ...

class PickRequest(_message.Message):
    __slots__ = ("model", "requester_did", "min_trust_level", "tier", "accepted_providers", "friends", "country", "min_version", "needs_tools", "pro_bono", "exclude", "max_candidates", "min_context_length", "friends_only")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_DID_FIELD_NUMBER: _ClassVar[int]
    MIN_TRUST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    FRIENDS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEEDS_TOOLS_FIELD_NUMBER: _ClassVar[int]
    PRO_BONO_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    MAX_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MIN_CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    FRIENDS_ONLY_FIELD_NUMBER: _ClassVar[int]
    model: str
    requester_did: str
    min_trust_level: str
    tier: str
    accepted_providers: _containers.RepeatedScalarFieldContainer[str]
    friends: _containers.RepeatedScalarFieldContainer[str]
    country: str
    min_version: str
    needs_tools: bool
    pro_bono: bool
    exclude: _containers.RepeatedCompositeFieldContainer[ProviderKey]
    max_candidates: int
    min_context_length: int
    friends_only: bool
    def __init__(self, model: _Optional[str] = ..., requester_did: _Optional[str] = ..., min_trust_level: _Optional[str] = ..., tier: _Optional[str] = ..., accepted_providers: _Optional[_Iterable[str]] = ..., friends: _Optional[_Iterable[str]] = ..., country: _Optional[str] = ..., min_version: _Optional[str] = ..., needs_tools: _Optional[bool] = ..., pro_bono: _Optional[bool] = ..., exclude: _Optional[_Iterable[_Union[ProviderKey, _Mapping]]] = ..., max_candidates: _Optional[int] = ..., min_context_length: _Optional[int] = ..., friends_only: _Optional[bool] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("did", "machine_id", "encryption_pub_key", "enc_scheme", "attestation", "lease", "lease_expires_at_ms", "pro_bono", "binary_version", "trust_level", "tier")
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PRO_BONO_FIELD_NUMBER: _ClassVar[int]
    BINARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    did: str
    machine_id: str
    encryption_pub_key: str
    enc_scheme: str
    attestation: _common_pb2.StrongRef
    lease: str
    lease_expires_at_ms: int
    pro_bono: bool
    binary_version: str
    trust_level: str
    tier: str
    def __init__(self, did: _Optional[str] = ..., machine_id: _Optional[str] = ..., encryption_pub_key: _Optional[str] = ..., enc_scheme: _Optional[str] = ..., attestation: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., lease: _Optional[str] = ..., lease_expires_at_ms: _Optional[int] = ..., pro_bono: _Optional[bool] = ..., binary_version: _Optional[str] = ..., trust_level: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...

class PickResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class ReleaseLeaseRequest(_message.Message):
    __slots__ = ("lease",)
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: str
    def __init__(self, lease: _Optional[str] = ...) -> None: ...

class ReleaseLeaseResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("lease", "sealed_input", "requester_pub_key", "enc_scheme")
    LEASE_FIELD_NUMBER: _ClassVar[int]
    SEALED_INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    lease: str
    sealed_input: bytes
    requester_pub_key: str
    enc_scheme: str
    def __init__(self, lease: _Optional[str] = ..., sealed_input: _Optional[bytes] = ..., requester_pub_key: _Optional[str] = ..., enc_scheme: _Optional[str] = ...) -> None: ...

class DispatchRequest(_message.Message):
    __slots__ = ("spec", "attempts", "pick", "presealed")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PICK_FIELD_NUMBER: _ClassVar[int]
    PRESEALED_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    pick: PickRequest
    presealed: _containers.RepeatedCompositeFieldContainer[Presealed]
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., pick: _Optional[_Union[PickRequest, _Mapping]] = ..., presealed: _Optional[_Iterable[_Union[Presealed, _Mapping]]] = ...) -> None: ...

class Presealed(_message.Message):
    __slots__ = ("did", "machine_id", "encryption_pub_key", "sealed_input", "requester_pub_key", "enc_scheme")
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    SEALED_INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    did: str
    machine_id: str
    encryption_pub_key: str
    sealed_input: bytes
    requester_pub_key: str
    enc_scheme: str
    def __init__(self, did: _Optional[str] = ..., machine_id: _Optional[str] = ..., encryption_pub_key: _Optional[str] = ..., sealed_input: _Optional[bytes] = ..., requester_pub_key: _Optional[str] = ..., enc_scheme: _Optional[str] = ...) -> None: ...

class DispatchEvent(_message.Message):
    __slots__ = ("started", "chunks", "failover", "completed", "error", "unsealed")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    UNSEALED_FIELD_NUMBER: _ClassVar[int]
    started: Started
    chunks: Chunks
    failover: Failover
    completed: Completed
    error: Error
    unsealed: PickResponse
    def __init__(self, started: _Optional[_Union[Started, _Mapping]] = ..., chunks: _Optional[_Union[Chunks, _Mapping]] = ..., failover: _Optional[_Union[Failover, _Mapping]] = ..., completed: _Optional[_Union[Completed, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., unsealed: _Optional[_Union[PickResponse, _Mapping]] = ...) -> None: ...

class DispatchStreamRequest(_message.Message):
    __slots__ = ("ref", "dispatch", "cancel")
    REF_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    ref: int
    dispatch: DispatchRequest
    cancel: CancelDispatch
    def __init__(self, ref: _Optional[int] = ..., dispatch: _Optional[_Union[DispatchRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelDispatch, _Mapping]] = ...) -> None: ...

class CancelDispatch(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DispatchStreamEvent(_message.Message):
    __slots__ = ("ref", "event", "end")
    REF_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ref: int
    event: DispatchEvent
    end: JobEnd
    def __init__(self, ref: _Optional[int] = ..., event: _Optional[_Union[DispatchEvent, _Mapping]] = ..., end: _Optional[_Union[JobEnd, _Mapping]] = ...) -> None: ...

class JobEnd(_message.Message):
    __slots__ = ("status", "code", "message", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    status: str
    code: str
    message: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Started(_message.Message):
    __slots__ = ("attempt", "did", "machine_id", "job_id")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    did: str
    machine_id: str
    job_id: str
    def __init__(self, attempt: _Optional[int] = ..., did: _Optional[str] = ..., machine_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class Chunks(_message.Message):
    __slots__ = ("first_seq", "chunks")
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    first_seq: int
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    def __init__(self, first_seq: _Optional[int] = ..., chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ...) -> None: ...

class Failover(_message.Message):
    __slots__ = ("attempt", "code", "message")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    code: str
    message: str
    def __init__(self, attempt: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Completed(_message.Message):
    __slots__ = ("usage", "receipt", "finish_reason", "commitments", "final_seq")
    USAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    FINAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    usage: Usage
    receipt: _common_pb2.StrongRef
    finish_reason: str
    commitments: OutputCommitments
    final_seq: int
    def __init__(self, usage: _Optional[_Union[Usage, _Mapping]] = ..., receipt: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., finish_reason: _Optional[str] = ..., commitments: _Optional[_Union[OutputCommitments, _Mapping]] = ..., final_seq: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "retryable")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class ModelStats(_message.Message):
    __slots__ = ("model", "ttft_ms", "tokens_per_s_milli", "samples")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_MILLI_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    model: str
    ttft_ms: int
    tokens_per_s_milli: int
    samples: int
    def __init__(self, model: _Optional[str] = ..., ttft_ms: _Optional[int] = ..., tokens_per_s_milli: _Optional[int] = ..., samples: _Optional[int] = ...) -> None: ...

class ProviderInfo(_message.Message):
    __slots__ = ("did", "machine_id", "machine_label", "replica_id", "models", "slots", "free_slots", "country", "binary_version", "trust_level", "tier", "enc_scheme", "attestation", "attested_age_ms", "cooldown_remaining_ms", "cooldown_reason", "reliability_milli", "stats", "load", "queued", "draining", "remote", "sip_enabled")
    DID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_LABEL_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    BINARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    ENC_SCHEME_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    ATTESTED_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_REMAINING_MS_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_REASON_FIELD_NUMBER: _ClassVar[int]
    RELIABILITY_MILLI_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    SIP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    did: str
    machine_id: str
    machine_label: str
    replica_id: str
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    slots: int
    free_slots: int
    country: str
    binary_version: str
    trust_level: str
    tier: str
    enc_scheme: str
    attestation: _common_pb2.StrongRef
    attested_age_ms: int
    cooldown_remaining_ms: int
    cooldown_reason: str
    reliability_milli: int
    stats: _containers.RepeatedCompositeFieldContainer[ModelStats]
    load: float
    queued: int
    draining: bool
    remote: bool
    sip_enabled: bool
    def __init__(self, did: _Optional[str] = ..., machine_id: _Optional[str] = ..., machine_label: _Optional[str] = ..., replica_id: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., slots: _Optional[int] = ..., free_slots: _Optional[int] = ..., country: _Optional[str] = ..., binary_version: _Optional[str] = ..., trust_level: _Optional[str] = ..., tier: _Optional[str] = ..., enc_scheme: _Optional[str] = ..., attestation: _Optional[_Union[_common_pb2.StrongRef, _Mapping]] = ..., attested_age_ms: _Optional[int] = ..., cooldown_remaining_ms: _Optional[int] = ..., cooldown_reason: _Optional[str] = ..., reliability_milli: _Optional[int] = ..., stats: _Optional[_Iterable[_Union[ModelStats, _Mapping]]] = ..., load: _Optional[float] = ..., queued: _Optional[int] = ..., draining: _Optional[bool] = ..., remote: _Optional[bool] = ..., sip_enabled: _Optional[bool] = ...) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderInfo]
    def __init__(self, providers: _Optional[_Iterable[_Union[ProviderInfo, _Mapping]]] = ...) -> None: ...
