"""Pure pieces of the AppView: fees, cursors, config, validation reasons, keys, latency stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cocore.lexicon import ids
from cocore.rpc import ConfigError
from services.appview.aggregates import latency_summary
from services.appview.bulk import sqlite_time
from services.appview.config import AppViewConfig
from services.appview.cursors import decode_cursor, encode_cursor
from services.appview.driver import postgres_sql
from services.appview.errors import InvalidCursor, MethodNotFound, RecordNotFound
from services.appview.fees import check_fee, expected_fee
from services.appview.http import error_body
from services.appview.validate import Accepted, RecordValidator, Rejected

POLICY = {"fee": {"bps": 500, "minMinor": 2, "currency": "USD"}, "selfLoop": {"feeWaived": True}}


@pytest.mark.parametrize(
    ("amount", "self_loop", "pro_bono", "fee"),
    [
        (1000, False, False, 50),
        (10, False, False, 2),
        (1, False, False, 1),
        (99, False, False, 4),
        (1000, True, False, 0),
        (1000, False, True, 0),
    ],
)
def test_expected_fee(amount: int, self_loop: bool, pro_bono: bool, fee: int) -> None:
    assert expected_fee(amount, POLICY, self_loop=self_loop, pro_bono=pro_bono) == fee


def test_self_loop_floor_and_fee_findings() -> None:
    policy = {**POLICY, "selfLoop": {"feeWaived": False, "minMinor": 3}}
    assert expected_fee(1000, policy, self_loop=True, pro_bono=False) == 3
    settled = {
        "status": "settled",
        "amountCharged": {"amount": 1000},
        "exchangeFee": {"amount": 49},
    }
    finding = check_fee(settled, POLICY, self_loop=False, pro_bono=False)
    assert finding is not None and finding.code == "fee-mismatch"
    assert (
        check_fee(
            {**settled, "exchangeFee": {"amount": 50}}, POLICY, self_loop=False, pro_bono=False
        )
        is None
    )
    assert (
        check_fee({**settled, "status": "refunded"}, POLICY, self_loop=False, pro_bono=False)
        is None
    )
    unusable = check_fee(settled, {}, self_loop=False, pro_bono=False)
    assert unusable is not None and unusable.code == "fee-unchecked"


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    assert decode_cursor(encode_cursor(42), int) == (42,)
    assert decode_cursor(encode_cursor("2026-01-01", "did:plc:x"), str, str) == (
        "2026-01-01",
        "did:plc:x",
    )
    for bad in ("", "!!!", encode_cursor("42"), encode_cursor(1, 2), "A" * 600):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, int)


def test_config_reads_env_and_refuses_a_memory_database_outside_dev() -> None:
    env = {
        "COCORE_APPVIEW_PDS_HOSTS": "http://127.0.0.1:2583/, http://127.0.0.1:2583",
        "COCORE_APPVIEW_RELAYS": "wss://relay.example",
        "COCORE_APPVIEW_GRPC_PORT": "0",
        "COCORE_APPVIEW_EXCHANGES": "did:plc:exchangeaaaaaaaaaaaaaaaa",
    }
    config = AppViewConfig.from_env(env)
    assert config.pds_hosts == ("http://127.0.0.1:2583",)
    assert config.source_kinds == {"wss://relay.example": "relay", "http://127.0.0.1:2583": "pds"}
    assert config.exchanges == frozenset({"did:plc:exchangeaaaaaaaaaaaaaaaa"})
    assert config.database_url.endswith("var/appview.db")
    memory = {"COCORE_APPVIEW_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    with pytest.raises(ConfigError):
        AppViewConfig.from_env(memory)
    assert AppViewConfig.from_env({**memory, "COCORE_APPVIEW_DEV": "1"}).dev
    for bad in (
        {"COCORE_APPVIEW_EXCHANGES": "not-a-did"},
        {"COCORE_APPVIEW_HTTP_PORT": "x"},
        {"COCORE_APPVIEW_PDS_HOSTS": "ftp://x"},
    ):
        with pytest.raises(ConfigError):
            AppViewConfig.from_env(bad)


def test_validation_reasons() -> None:
    v = RecordValidator(max_record_bytes=1024)
    friend = {
        "$type": str(ids.ACCOUNT_FRIEND),
        "subject": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        "createdAt": "2026-11-21T00:00:00Z",
    }
    repo = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
    assert isinstance(v.check(ids.ACCOUNT_FRIEND, repo, "3aaaaaaaaaaaa", friend), Accepted)
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        (ids.ACCOUNT_FRIEND, "not-a-tid", friend, "rkey-invalid"),
        (
            ids.ACCOUNT_PROFILE,
            "3aaaaaaaaaaaa",
            {"createdAt": "2026-11-21T00:00:00Z"},
            "rkey-invalid",
        ),
        (ids.COMPUTE_LATENCY, "3aaaaaaaaaaaa", friend, "unknown-collection"),
        (ids.ACCOUNT_FRIEND, "3aaaaaaaaaaaa", {**friend, "note": "x" * 2000}, "too-large"),
        (ids.ACCOUNT_FRIEND, "3aaaaaaaaaaaa", {**friend, "n": 1.5}, "not-canonical"),
        (ids.ACCOUNT_FRIEND, "3aaaaaaaaaaaa", {**friend, "subject": "bob"}, "lexicon-invalid"),
    ]
    for nsid, rkey, record, reason in cases:
        verdict = v.check(nsid, repo, rkey, record)
        assert isinstance(verdict, Rejected) and verdict.reason == reason, (reason, verdict)


def test_latency_summary_nearest_rank() -> None:
    assert latency_summary([]) == {"sampleCount": 0}
    stats = latency_summary([50, 10, 20, 30, 40])
    assert stats == {"sampleCount": 5, "p50Ms": 30, "p95Ms": 50, "avgMs": 30, "lastMs": 50}


def test_error_mapping() -> None:
    assert error_body(MethodNotFound("x")) == (
        501,
        {"error": "MethodNotImplemented", "message": "x"},
    )
    assert error_body(RecordNotFound("gone"))[0] == 404
    assert error_body(InvalidCursor("bad"))[0] == 400
    assert error_body(RuntimeError("secret")) == (
        500,
        {"error": "InternalServerError", "message": "internal error"},
    )


def test_driver_values_are_what_sqlalchemy_writes_and_reads() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert sqlite_time(moment) == "2026-01-02 03:04:05.000006"
    assert sqlite_time(moment.astimezone(timezone(timedelta(hours=2)))) == sqlite_time(moment)
    assert sqlite_time(moment.replace(microsecond=0)) == "2026-01-02 03:04:05.000000"
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 2))
    assert postgres_sql("a = ? AND b IN (?) LIMIT ?") == "a = $1 AND b IN ($2) LIMIT $3"


def test_ingest_workers_setting() -> None:
    base = {"COCORE_APPVIEW_GRPC_PORT": "0"}
    assert not AppViewConfig.from_env({**base, "COCORE_APPVIEW_INGEST_WORKERS": "0"}).ingest_workers
    assert AppViewConfig.from_env({**base, "COCORE_APPVIEW_INGEST_WORKERS": "1"}).ingest_workers
    with pytest.raises(ConfigError, match="expected 0 or 1"):
        AppViewConfig.from_env({**base, "COCORE_APPVIEW_INGEST_WORKERS": "maybe"})


def test_list_records_render_as_the_json_encoder_would_with_the_body_spliced_in() -> None:
    import json

    from services.appview.queries import indexed_record_json_head, page_result, to_json_bytes
    from services.appview.read import IndexedRecord, Page

    odd = IndexedRecord(
        uri='at://did:web:ex%41mple.com/dev.cocore.account.profile/self"\\é',
        cid="bafyreib",
        collection=ids.ACCOUNT_PROFILE,
        repo="did:web:ex%41mple.com\u2028",
        rkey="self",
        body=b'{"displayName":"\xc3\xa9\\n"}',
        indexed_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )
    head = json.dumps(indexed_record_json_head(odd), separators=(",", ":"), ensure_ascii=False)
    expected = '{"profiles":[' + head[:-1] + ',"body":{"displayName":"é\\n"}}],"cursor":"c"}'
    rendered = to_json_bytes(page_result("profiles", Page([odd], "c")))
    assert rendered == expected.encode()
    assert json.loads(rendered)["profiles"][0]["indexedAt"] == "2026-01-02T03:04:05.678Z"


def test_the_endpoint_policy_allows_the_configured_sources_and_nothing_private() -> None:
    from cocore.atproto import UnsafeEndpoint

    base = {"COCORE_APPVIEW_DATABASE_URL": "sqlite+aiosqlite:///var/x.db"}
    sources = {"COCORE_APPVIEW_PDS_HOSTS": "http://pds:2583",
               "COCORE_APPVIEW_PDS_ALLOWED_HOSTS": "pds2.cocore.svc"}  # fmt: skip
    config = AppViewConfig.from_env({**base, **sources})
    policy = config.endpoint_policy()
    assert policy.check("http://pds:2583") and policy.check("https://pds2.cocore.svc")
    for refused in ("http://10.0.0.1", "https://169.254.169.254", "https://postgres"):
        with pytest.raises(UnsafeEndpoint):
            policy.check(refused)
    dev = AppViewConfig.from_env({**base, "COCORE_APPVIEW_DEV": "1"}).endpoint_policy()
    assert dev.check("http://10.0.0.1")
