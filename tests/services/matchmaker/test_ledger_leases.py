"""Failure ledger (cooldowns that escalate, cap and decay), lease tokens, versions."""

from __future__ import annotations

import pytest

from services.matchmaker.errors import LeaseInvalid
from services.matchmaker.pool import LeaseClaims, LeaseSigner, parse_version
from services.matchmaker.pool.ledger import FailureLedger
from services.matchmaker.pool.versions import meets
from services.matchmaker.settings import PoolSettings

KEY = ("did:plc:a", "m1")


def test_three_close_failures_trip_a_cooldown_that_escalates_and_caps() -> None:
    ledger = FailureLedger(PoolSettings())
    now = 1000.0
    lengths = []
    for _ in range(6):
        assert ledger.record_failure(KEY, "x", now) is None
        assert ledger.record_failure(KEY, "x", now + 1) is None
        cooldown = ledger.record_failure(KEY, "stream_stalled", now + 2)
        assert cooldown is not None and cooldown.reason == "stream_stalled"
        lengths.append(cooldown.until - (now + 2))
        assert ledger.cooling(KEY, now + 3)
        now = cooldown.until + 1
    assert lengths == [60, 120, 240, 480, 600, 600]


def test_spread_out_failures_never_trip() -> None:
    ledger = FailureLedger(PoolSettings())
    for i in range(10):
        assert ledger.record_failure(KEY, "x", 1000.0 + i * 700) is None


def test_success_does_not_end_a_cooldown_but_clean_time_resets_strikes() -> None:
    ledger = FailureLedger(PoolSettings(failure_threshold=1))
    first = ledger.record_failure(KEY, "x", 0.0)
    assert first is not None and first.strikes == 1
    ledger.record_success(KEY, 10.0)
    assert ledger.cooling(KEY, 30.0)
    second = ledger.record_failure(KEY, "x", 100.0)
    assert second is not None and second.strikes == 2
    ledger.record_success(KEY, 2000.0)  # 15 min clean
    third = ledger.record_failure(KEY, "x", 2001.0)
    assert third is not None and third.strikes == 1


def claims(expires: float = 2000.0) -> LeaseClaims:
    return LeaseClaims("abcd", "did:plc:a", "m1", "tiny", "r1", expires)


def test_lease_round_trip_and_every_tamper_is_refused() -> None:
    signer = LeaseSigner(b"s" * 32)
    token = signer.mint(claims())
    assert signer.verify(token, 1000.0) == claims()
    with pytest.raises(LeaseInvalid) as err:
        signer.verify(token, 2000.0)
    assert err.value.code == "lease_expired"
    with pytest.raises(LeaseInvalid) as err:
        LeaseSigner(b"t" * 32).verify(token, 1000.0)
    assert err.value.code == "lease_forged"
    head, _body, mac = token.split(".")
    other = LeaseSigner(b"s" * 32).mint(LeaseClaims("abcd", "did:plc:b", "m1", "tiny", "r1", 2000))
    with pytest.raises(LeaseInvalid):
        signer.verify(f"{head}.{other.split('.')[1]}.{mac}", 1000.0)
    for bad in ("", "v1.x", "v2.a.b", "v1.!!.??", "x" * 5000):
        with pytest.raises(LeaseInvalid):
            signer.verify(bad, 1000.0)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1.2.3", (1, 2, 3)), ("v0.9.32", (0, 9, 32)), ("1.0-beta", (1, 0)), ("1.2+abc", (1, 2)),
     ("", None), ("abc", None), ("1..2", None)],
)  # fmt: skip
def test_versions(text: str, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(text) == parsed


def test_version_floor() -> None:
    assert meets((1, 0), (1, 0, 0)) and meets((1, 2), (1, 1, 9)) and not meets((0, 9), (1,))
    assert meets(None, None) and not meets(None, (0,))
