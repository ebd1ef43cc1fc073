"""Pick: filters, refusal codes, scoring from measurements, slot leases."""

from __future__ import annotations

import pytest

from services.matchmaker.errors import NoProviders, NoProvidersForModel, ProvidersBusy
from services.matchmaker.pool import PickFilter, Pool, ProBono, parse_version
from services.matchmaker.settings import PoolSettings

from .poolkit import NOW, Clock, machine, make_pool


def refusal_code(pool: Pool, f: PickFilter) -> str:
    with pytest.raises((NoProviders, NoProvidersForModel, ProvidersBusy)) as err:
        pool.pick(f)
    return err.value.code


def test_empty_pool_refuses_with_no_providers_connected() -> None:
    assert refusal_code(make_pool(), PickFilter("tiny")) == "no_providers_connected"


def test_model_must_be_listed_and_empty_lists_match_nothing() -> None:
    pool = make_pool()
    pool.add(machine("did:plc:a", models=()))
    pool.add(machine("did:plc:b", models=("other",)))
    with pytest.raises(NoProvidersForModel) as err:
        pool.pick(PickFilter("tiny"))
    assert err.value.code == "no_providers_for_model"
    # the refusal is a NotFound, so the gateway can answer model_not_found
    from cocore.errors import NotFound

    assert isinstance(err.value, NotFound)


@pytest.mark.parametrize(
    ("f", "code"),
    [
        (PickFilter("tiny", country="DE"), "no_providers_for_country"),
        (PickFilter("tiny", accepted=frozenset({"did:plc:zzz"})), "no_accepted_providers"),
        (PickFilter("tiny", friends=frozenset({"did:plc:zzz"})), "no_friends_for_model"),
        (PickFilter("tiny", friends=frozenset()), "no_friends_available"),
        (PickFilter("tiny", min_trust_level="hardware-attested"), "no_providers_for_trust_level"),
        (PickFilter("tiny", tier="attested-confidential"), "no_providers_for_tier"),
        (PickFilter("tiny", min_version=parse_version("2.0")), "no_providers_for_version"),
        (PickFilter("tiny", needs_tools=True), "no_providers_for_tool_calls"),
        (PickFilter("tiny", min_context_length=100_000), "no_providers_for_context_length"),
        (PickFilter("tiny", pro_bono=True, requester_did="did:plc:r"), "no_pro_bono_providers"),
        (PickFilter("tiny", exclude=frozenset({("did:plc:a", "")})), "no_providers_left"),
    ],
)
def test_each_filter_has_its_own_refusal_code(f: PickFilter, code: str) -> None:
    pool = make_pool()
    pool.add(machine("did:plc:a", country="US"))
    assert refusal_code(pool, f) == code


def test_filters_select_the_matching_machine() -> None:
    pool = make_pool()
    pool.add(machine("did:plc:a", country="US", version="0.9.0"))
    pool.add(machine("did:plc:b", country="DE", version="1.2.0", tools=True))
    pool.add(machine("did:plc:c", pro_bono=ProBono("direct", frozenset({"did:plc:r"}))))
    assert pool.pick(PickFilter("tiny", country="DE"))[0].entry.did == "did:plc:b"
    assert pool.pick(PickFilter("tiny", needs_tools=True))[0].entry.did == "did:plc:b"
    recent = PickFilter("tiny", min_version=parse_version("1.0"))
    assert pool.pick(recent)[0].entry.did in {"did:plc:b", "did:plc:c"}
    bono = PickFilter("tiny", pro_bono=True, requester_did="did:plc:r")
    assert pool.pick(bono)[0].entry.did == "did:plc:c"
    friends = PickFilter("tiny", friends=frozenset({"did:plc:a"}))
    assert pool.pick(friends)[0].entry.did == "did:plc:a"


def test_missing_version_fails_a_floor_closed() -> None:
    pool = make_pool()
    pool.add(machine("did:plc:a", version="unknown"))
    assert refusal_code(pool, PickFilter("tiny", min_version=(0, 1))) == "no_providers_for_version"


def test_stale_attestation_and_cooldown_exclude() -> None:
    clock = Clock()
    pool = make_pool(clock, PoolSettings(failure_threshold=1))
    a = machine("did:plc:a", attested_at=NOW - 1000)
    pool.add(a)
    assert refusal_code(pool, PickFilter("tiny")) == "no_attested_providers"
    a.attested_at = NOW
    expired = machine("did:plc:b", expires_at=NOW - 1)
    pool.add(expired)
    assert pool.pick(PickFilter("tiny"), k=5)[0].entry is a  # b's attestation record expired
    pool.release(a)
    assert pool.record_failure(a, "first_chunk_timeout") is not None
    assert refusal_code(pool, PickFilter("tiny")) == "providers_cooling_down"
    clock.now += 61
    assert pool.pick(PickFilter("tiny"))[0].entry is a


def test_busy_pool_says_busy_and_leases_hold_slots() -> None:
    pool = make_pool()
    a = machine("did:plc:a", slots=1)
    pool.add(a)
    first = pool.pick(PickFilter("tiny"))[0]
    assert first.reserved and a.free == 0
    with pytest.raises(ProvidersBusy):
        pool.pick(PickFilter("tiny"))
    pool.reservations.drop(first.claims.lease_id)
    assert a.free == 1


def test_expired_leases_release_their_slot_on_the_next_pick() -> None:
    clock = Clock()
    pool = make_pool(clock)
    a = machine("did:plc:a", slots=1)
    pool.add(a)
    pool.pick(PickFilter("tiny"))
    clock.now += 16  # past the 15 s lease
    assert pool.pick(PickFilter("tiny"))[0].entry is a


def test_claim_uses_the_held_slot_once() -> None:
    pool = make_pool()
    a = machine("did:plc:a", slots=2)
    pool.add(a)
    pick = pool.pick(PickFilter("tiny"))[0]
    assert a.in_use == 1
    assert pool.claim(pick.claims, a)
    assert a.in_use == 1  # the held slot became the dispatch's slot
    assert pool.claim(pick.claims, a)  # a second claim needs a fresh slot
    assert a.in_use == 2
    assert not pool.claim(pick.claims, a)


def test_measured_speed_and_reliability_steer_the_pick() -> None:
    pool = make_pool()
    fast, slow = machine("did:plc:fast", slots=8), machine("did:plc:slow", slots=8)
    pool.add(fast)
    pool.add(slow)
    for _ in range(3):
        pool.record_first_chunk(fast, "tiny", 0.05)
        pool.record_success(fast, "tiny", 100, 1.0)
        pool.record_first_chunk(slow, "tiny", 2.0)
        pool.record_success(slow, "tiny", 100, 10.0)
    picks = [pool.pick(PickFilter("tiny"))[0] for _ in range(4)]
    assert all(p.entry is fast for p in picks)
    for p in picks:
        pool.reservations.drop(p.claims.lease_id)
    for _ in range(6):
        pool.record_failure(fast, "engine_error")
    pool.ledger._records.clear()  # keep the cooldown out of it: reliability alone
    assert pool.pick(PickFilter("tiny"))[0].entry is slow


def test_load_spreads_jobs_across_equal_machines() -> None:
    pool = make_pool()
    for i in range(4):
        pool.add(machine(f"did:plc:{i}", slots=2))
    chosen = [pool.pick(PickFilter("tiny"))[0].entry.did for _ in range(4)]
    assert len(set(chosen)) == 4


def test_candidates_are_distinct_and_only_the_first_holds_a_slot() -> None:
    pool = make_pool()
    for i in range(3):
        pool.add(machine(f"did:plc:{i}"))
    picks = pool.pick(PickFilter("tiny"), k=3)
    assert len({p.entry.key for p in picks}) == 3
    assert [p.reserved for p in picks] == [True, False, False]
    assert sum(p.entry.in_use for p in picks) == 1


def test_replacing_and_removing_machines_keeps_indexes_consistent() -> None:
    pool = make_pool()
    old = machine("did:plc:a", country="US")
    pool.add(old)
    new = machine("did:plc:a", country="DE", models=("big",))
    assert pool.add(new) is old
    assert refusal_code(pool, PickFilter("tiny")) == "no_providers_for_model"
    assert pool.pick(PickFilter("big", country="DE"))[0].entry is new
    pool.remove(old)  # a stale entry cannot remove its successor
    assert pool.get(new.key) is new
    pool.remove(new)
    assert len(pool) == 0 and not pool.index.open_by_model and not pool.index.open_by_country


def test_reindex_moves_a_machine_between_models() -> None:
    pool = make_pool()
    a = machine("did:plc:a")
    pool.add(a)
    pool.reindex(a, lambda e: setattr(e, "models", {}))
    assert refusal_code(pool, PickFilter("tiny")) == "no_providers_for_model"


def test_draining_machines_are_not_picked() -> None:
    pool = make_pool()
    a = machine("did:plc:a")
    pool.add(a)
    a.draining = True
    pool.refresh(a)
    assert refusal_code(pool, PickFilter("tiny")) == "providers_draining"
