"""The automatic patronage schedule: the periods it owes (pure, property-tested) and the sweep
that distributes them against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from cocore.lexicon import ids
from services.exchange import db
from services.exchange.config import Config
from services.exchange.patronage import EPOCH, due_periods
from services.exchange.policy import PolicyTerms
from services.exchange.settlement import Settled
from services.exchange.sweeps import distribute_due_patronage
from tests.services.exchange.conftest import T0, Harness, close_harness, open_harness

DAY = timedelta(days=1)
GRACE = DAY

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _on_boundary(moment: datetime, cadence_days: int) -> bool:
    return (moment - EPOCH) % timedelta(days=cadence_days) == timedelta(0)


# ---------------------------------------------------------------------------------- pure


@given(
    cadence=st.integers(1, 400), first=moments, last_end=st.none() | moments,
    ahead=st.timedeltas(timedelta(0), timedelta(days=3_000)), limit=st.integers(1, 50),
)  # fmt: skip
def test_due_periods_tile_from_the_last_end_on_cadence_boundaries(
    cadence: int, first: datetime, last_end: datetime | None, ahead: timedelta, limit: int
) -> None:
    over_by = (last_end or first) + ahead
    periods = due_periods(cadence_days=cadence, over_by=over_by, last_end=last_end,
                          first_activity=first, limit=limit)  # fmt: skip
    assert len(periods) <= limit
    if last_end is None:
        start = periods[0][0] if periods else None
        if start is not None:
            assert _on_boundary(start, cadence) and start <= first < start + timedelta(cadence)
    elif periods:
        assert periods[0][0] == last_end  # continues exactly where distribution stopped
    for (start, end), following in zip(periods, [*periods[1:], None], strict=False):
        assert start < end <= over_by
        assert _on_boundary(end, cadence) and end - start <= timedelta(days=cadence)
        if following is not None:
            assert following[0] == end  # no gap, no overlap
    # Maximal: whatever it left out is not over yet (or waits for the next turn's limit).
    if len(periods) < limit:
        resume = periods[-1][1] if periods else (last_end if last_end is not None else first)
        step = timedelta(days=cadence)
        next_end = EPOCH + step * ((resume - EPOCH) // step + 1)
        assert next_end > over_by


def test_no_activity_and_no_history_owe_nothing() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert due_periods(cadence_days=30, over_by=now, last_end=None, first_activity=None,
                       limit=12) == []  # fmt: skip
    with pytest.raises(ValueError):
        due_periods(cadence_days=0, over_by=now, last_end=None, first_activity=now, limit=1)


def test_config_reads_and_checks_the_schedule() -> None:
    config = Config.from_env({"COCORE_EXCHANGE_PATRONAGE_INTERVAL_S": "0",
                              "COCORE_EXCHANGE_PATRONAGE_GRACE_S": "7200"})  # fmt: skip
    assert (config.patronage_interval_s, config.patronage_grace_s) == (0.0, 7200.0)
    defaults = Config.from_env({})
    assert (defaults.patronage_interval_s, defaults.patronage_grace_s) == (3600.0, 86400.0)
    with pytest.raises(Exception, match="PATRONAGE"):
        Config.from_env({"COCORE_EXCHANGE_PATRONAGE_GRACE_S": "-1"})


# ---------------------------------------------------------------------------------- the sweep


async def _periods(h: Harness) -> list[tuple[datetime, datetime, int]]:
    query = select(db.PERIODS).order_by(db.PERIODS.c.start)
    async with h.db.session() as session:
        return [(r.start, r.end, r.distributed) for r in (await session.execute(query)).all()]


async def _patronage_records(h: Harness) -> list[dict[str, object]]:
    query = select(db.OUTBOX).where(db.OUTBOX.c.collection == ids.ACCOUNT_TOKEN_PATRONAGE)
    async with h.db.session() as session:
        return [json.loads(str(r.record)) for r in (await session.execute(query)).all()]


async def test_the_sweep_distributes_each_ended_period_once_and_in_order(
    harness: Harness,
) -> None:
    h, f = harness, harness.factory
    a, b = f.did(), f.provider()
    settled = await h.exchange.settle(f.bundle(a, b, tokens_out=1_000))  # completed at T0
    assert isinstance(settled, Settled) and settled.fee == 50
    cadence = timedelta(days=h.policies.current.terms.patronage_cadence_days)
    first_end = EPOCH + cadence * ((T0 - EPOCH) // cadence + 1)

    h.clock.now = first_end + GRACE - timedelta(seconds=1)  # over, but not for the grace yet
    assert await distribute_due_patronage(h.exchange, GRACE) == []

    h.clock.now = first_end + GRACE
    [first] = await distribute_due_patronage(h.exchange, GRACE)
    assert (first.start, first.end) == (first_end - cadence, first_end)
    assert first.scores == {a: 1_000, b.did: 950} and first.treasury_before == 50
    assert first.credits == {a: 20, b.did: 19}  # floor(50·0.8·1000/1950), floor(50·0.8·950/1950)
    assert await distribute_due_patronage(h.exchange, GRACE) == []  # nothing more is owed
    assert len(await _patronage_records(h)) == 2

    # Three cadences later: the quiet periods in between tile on, each distributing nothing.
    h.clock.now = first_end + 3 * cadence + GRACE
    later = await distribute_due_patronage(h.exchange, GRACE)
    assert [(d.start, d.end, d.distributed) for d in later] == [
        (first_end + i * cadence, first_end + (i + 1) * cadence, 0) for i in range(3)
    ]
    periods = await _periods(h)
    assert [p[:2] for p in periods] == [(first.start, first.end)] + [
        (d.start, d.end) for d in later
    ]
    assert len(await _patronage_records(h)) == 2
    treasury = await h.exchange.balance(h.did, touch=False)
    assert treasury.balance == 50 - 39
    report = await h.exchange.reconcile()
    assert report.ok, report.drifts


async def test_a_manual_distribution_moves_the_schedule_on_and_catch_up_is_bounded(
    harness: Harness,
) -> None:
    h, f = harness, harness.factory
    await h.exchange.settle(f.bundle(f.did(), f.provider(), tokens_out=2_000))
    cadence = timedelta(days=h.policies.current.terms.patronage_cadence_days)
    # The operator distributes an odd window by hand, ending mid-period.
    manual_end = T0 + timedelta(days=2)
    h.clock.now = manual_end + timedelta(hours=1)
    manual = await h.exchange.distribute_patronage(T0 - timedelta(days=1), manual_end)
    assert manual.distributed == 79  # floor(100·0.8·2000/3900) + floor(100·0.8·1900/3900)

    # Long after: the schedule resumes at the manual end, at most `limit` periods a turn.
    h.clock.now = manual_end + 10 * cadence
    turn = await distribute_due_patronage(h.exchange, GRACE, limit=4)
    assert len(turn) == 4 and turn[0].start == manual_end
    assert (turn[0].end - EPOCH) % cadence == timedelta(0) and turn[0].end - manual_end < cadence
    rest = await distribute_due_patronage(h.exchange, GRACE, limit=100)
    assert rest[0].start == turn[-1].end and len(turn) + len(rest) == 10
    assert rest[-1].end <= h.clock() - GRACE
    starts_ends = [p[:2] for p in await _periods(h)]
    assert all(e == s2 for (_, e), (s2, _) in pairwise(starts_ends))


async def test_nothing_runs_while_patronage_is_off(db_url: str) -> None:
    h = await open_harness(db_url, PolicyTerms(patronage_fraction_bps=0))
    try:
        f = h.factory
        await h.exchange.settle(f.bundle(f.did(), f.provider(), tokens_out=1_000))
        h.clock.tick(days=400)
        assert await distribute_due_patronage(h.exchange, GRACE) == []
        assert await _periods(h) == []
    finally:
        await close_harness(h)
