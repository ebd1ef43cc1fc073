import datetime

from cocore.proto.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IndexedRecord(_message.Message):
    __slots__ = ("record", "indexed_at")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    INDEXED_AT_FIELD_NUMBER: _ClassVar[int]
    record: _common_pb2.Record
    indexed_at: _timestamp_pb2.Timestamp
    def __init__(self, record: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., indexed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordPage(_message.Message):
    __slots__ = ("records", "cursor")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[IndexedRecord]
    cursor: str
    def __init__(self, records: _Optional[_Iterable[_Union[IndexedRecord, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListReceiptsRequest(_message.Message):
    __slots__ = ("provider", "requester", "job", "limit", "cursor")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    provider: str
    requester: str
    job: str
    limit: int
    cursor: str
    def __init__(self, provider: _Optional[str] = ..., requester: _Optional[str] = ..., job: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("requester", "limit", "cursor")
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    requester: str
    limit: int
    cursor: str
    def __init__(self, requester: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListSettlementsRequest(_message.Message):
    __slots__ = ("receipt", "requester", "limit", "cursor")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    receipt: str
    requester: str
    limit: int
    cursor: str
    def __init__(self, receipt: _Optional[str] = ..., requester: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("ok", "trust_level", "findings")
    OK_FIELD_NUMBER: _ClassVar[int]
    TRUST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    trust_level: str
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, ok: _Optional[bool] = ..., trust_level: _Optional[str] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class ActivityStat(_message.Message):
    __slots__ = ("requests", "tokens")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    tokens: int
    def __init__(self, requests: _Optional[int] = ..., tokens: _Optional[int] = ...) -> None: ...

class ActivityWindows(_message.Message):
    __slots__ = ("hour", "day", "week", "month")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    hour: ActivityStat
    day: ActivityStat
    week: ActivityStat
    month: ActivityStat
    def __init__(self, hour: _Optional[_Union[ActivityStat, _Mapping]] = ..., day: _Optional[_Union[ActivityStat, _Mapping]] = ..., week: _Optional[_Union[ActivityStat, _Mapping]] = ..., month: _Optional[_Union[ActivityStat, _Mapping]] = ...) -> None: ...

class ProviderActivity(_message.Message):
    __slots__ = ("did", "stats")
    DID_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    did: str
    stats: ActivityWindows
    def __init__(self, did: _Optional[str] = ..., stats: _Optional[_Union[ActivityWindows, _Mapping]] = ...) -> None: ...

class ModelActivity(_message.Message):
    __slots__ = ("model_id", "totals", "by_provider")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BY_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    totals: ActivityWindows
    by_provider: _containers.RepeatedCompositeFieldContainer[ProviderActivity]
    def __init__(self, model_id: _Optional[str] = ..., totals: _Optional[_Union[ActivityWindows, _Mapping]] = ..., by_provider: _Optional[_Iterable[_Union[ProviderActivity, _Mapping]]] = ...) -> None: ...

class ModelActivityRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ModelActivityResponse(_message.Message):
    __slots__ = ("generated_at", "models", "cursor")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    generated_at: str
    models: _containers.RepeatedCompositeFieldContainer[ModelActivity]
    cursor: str
    def __init__(self, generated_at: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelActivity, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class LatencyStats(_message.Message):
    __slots__ = ("sample_count", "p50_ms", "p95_ms", "avg_ms", "last_ms")
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    AVG_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_MS_FIELD_NUMBER: _ClassVar[int]
    sample_count: int
    p50_ms: int
    p95_ms: int
    avg_ms: int
    last_ms: int
    def __init__(self, sample_count: _Optional[int] = ..., p50_ms: _Optional[int] = ..., p95_ms: _Optional[int] = ..., avg_ms: _Optional[int] = ..., last_ms: _Optional[int] = ...) -> None: ...

class ProviderLatency(_message.Message):
    __slots__ = ("did", "stats")
    DID_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    did: str
    stats: LatencyStats
    def __init__(self, did: _Optional[str] = ..., stats: _Optional[_Union[LatencyStats, _Mapping]] = ...) -> None: ...

class ModelLatency(_message.Message):
    __slots__ = ("model_id", "stats")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    stats: LatencyStats
    def __init__(self, model_id: _Optional[str] = ..., stats: _Optional[_Union[LatencyStats, _Mapping]] = ...) -> None: ...

class LatencyRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class LatencyResponse(_message.Message):
    __slots__ = ("generated_at", "overall", "by_provider", "by_model", "cursor")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    BY_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    BY_MODEL_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    generated_at: str
    overall: LatencyStats
    by_provider: _containers.RepeatedCompositeFieldContainer[ProviderLatency]
    by_model: _containers.RepeatedCompositeFieldContainer[ModelLatency]
    cursor: str
    def __init__(self, generated_at: _Optional[str] = ..., overall: _Optional[_Union[LatencyStats, _Mapping]] = ..., by_provider: _Optional[_Iterable[_Union[ProviderLatency, _Mapping]]] = ..., by_model: _Optional[_Iterable[_Union[ModelLatency, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("did",)
    DID_FIELD_NUMBER: _ClassVar[int]
    did: str
    def __init__(self, did: _Optional[str] = ...) -> None: ...

class Machine(_message.Message):
    __slots__ = ("rkey", "machine_label", "chip", "ram_gb", "supported_models", "active", "created_at", "trust_level")
    RKEY_FIELD_NUMBER: _ClassVar[int]
    MACHINE_LABEL_FIELD_NUMBER: _ClassVar[int]
    CHIP_FIELD_NUMBER: _ClassVar[int]
    RAM_GB_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_MODELS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRUST_LEVEL_FIELD_NUMBER: _ClassVar[int]
    rkey: str
    machine_label: str
    chip: str
    ram_gb: int
    supported_models: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    created_at: str
    trust_level: str
    def __init__(self, rkey: _Optional[str] = ..., machine_label: _Optional[str] = ..., chip: _Optional[str] = ..., ram_gb: _Optional[int] = ..., supported_models: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., created_at: _Optional[str] = ..., trust_level: _Optional[str] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("did", "handle", "display_name", "bio", "avatar_url", "joined_at", "last_activity_at", "machines", "job_count", "receipt_count", "incoming_friends_count", "latency")
    DID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIO_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    MACHINES_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCOMING_FRIENDS_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    did: str
    handle: str
    display_name: str
    bio: str
    avatar_url: str
    joined_at: str
    last_activity_at: str
    machines: _containers.RepeatedCompositeFieldContainer[Machine]
    job_count: int
    receipt_count: int
    incoming_friends_count: int
    latency: LatencyStats
    def __init__(self, did: _Optional[str] = ..., handle: _Optional[str] = ..., display_name: _Optional[str] = ..., bio: _Optional[str] = ..., avatar_url: _Optional[str] = ..., joined_at: _Optional[str] = ..., last_activity_at: _Optional[str] = ..., machines: _Optional[_Iterable[_Union[Machine, _Mapping]]] = ..., job_count: _Optional[int] = ..., receipt_count: _Optional[int] = ..., incoming_friends_count: _Optional[int] = ..., latency: _Optional[_Union[LatencyStats, _Mapping]] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("limit", "offset", "sort_by", "providers_only", "viewer_did", "exclude_viewer_friends", "q", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    VIEWER_DID_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_VIEWER_FRIENDS_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    sort_by: str
    providers_only: bool
    viewer_did: str
    exclude_viewer_friends: bool
    q: str
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ..., sort_by: _Optional[str] = ..., providers_only: _Optional[bool] = ..., viewer_did: _Optional[str] = ..., exclude_viewer_friends: _Optional[bool] = ..., q: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("did", "handle", "display_name", "avatar_url", "joined_at", "last_activity_at", "provider_count", "is_provider")
    DID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    did: str
    handle: str
    display_name: str
    avatar_url: str
    joined_at: str
    last_activity_at: str
    provider_count: int
    is_provider: bool
    def __init__(self, did: _Optional[str] = ..., handle: _Optional[str] = ..., display_name: _Optional[str] = ..., avatar_url: _Optional[str] = ..., joined_at: _Optional[str] = ..., last_activity_at: _Optional[str] = ..., provider_count: _Optional[int] = ..., is_provider: _Optional[bool] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("accounts", "total", "limit", "offset", "sort_by", "providers_only", "exclude_viewer_friends", "q", "cursor")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_VIEWER_FRIENDS_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    total: int
    limit: int
    offset: int
    sort_by: str
    providers_only: bool
    exclude_viewer_friends: bool
    q: str
    cursor: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., total: _Optional[int] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., sort_by: _Optional[str] = ..., providers_only: _Optional[bool] = ..., exclude_viewer_friends: _Optional[bool] = ..., q: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListIncomingFriendsRequest(_message.Message):
    __slots__ = ("did", "limit", "cursor")
    DID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    did: str
    limit: int
    cursor: str
    def __init__(self, did: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListFriendEdgesRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class FriendEdge(_message.Message):
    __slots__ = ("friender", "subject", "uri", "created_at")
    FRIENDER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    friender: str
    subject: str
    uri: str
    created_at: str
    def __init__(self, friender: _Optional[str] = ..., subject: _Optional[str] = ..., uri: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class ListIncomingFriendsResponse(_message.Message):
    __slots__ = ("friends", "total", "cursor")
    FRIENDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    friends: _containers.RepeatedCompositeFieldContainer[FriendEdge]
    total: int
    cursor: str
    def __init__(self, friends: _Optional[_Iterable[_Union[FriendEdge, _Mapping]]] = ..., total: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListFriendEdgesResponse(_message.Message):
    __slots__ = ("edges", "total", "cursor")
    EDGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    edges: _containers.RepeatedCompositeFieldContainer[FriendEdge]
    total: int
    cursor: str
    def __init__(self, edges: _Optional[_Iterable[_Union[FriendEdge, _Mapping]]] = ..., total: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class WatchRecordsRequest(_message.Message):
    __slots__ = ("cursor", "collections")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    collections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cursor: _Optional[int] = ..., collections: _Optional[_Iterable[str]] = ...) -> None: ...

class RecordEvent(_message.Message):
    __slots__ = ("seq", "action", "record", "rev", "indexed_at")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[RecordEvent.Action]
        ACTION_CREATE: _ClassVar[RecordEvent.Action]
        ACTION_UPDATE: _ClassVar[RecordEvent.Action]
        ACTION_DELETE: _ClassVar[RecordEvent.Action]
    ACTION_UNSPECIFIED: RecordEvent.Action
    ACTION_CREATE: RecordEvent.Action
    ACTION_UPDATE: RecordEvent.Action
    ACTION_DELETE: RecordEvent.Action
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    REV_FIELD_NUMBER: _ClassVar[int]
    INDEXED_AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    action: RecordEvent.Action
    record: _common_pb2.Record
    rev: str
    indexed_at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., action: _Optional[_Union[RecordEvent.Action, str]] = ..., record: _Optional[_Union[_common_pb2.Record, _Mapping]] = ..., rev: _Optional[str] = ..., indexed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
