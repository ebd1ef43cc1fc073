"""Properties of the storage types' conversions (pure logic; DB round trips: test_storage.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cocore.storage import UtcDateTime, compact_json, create_engine

# Engines connect lazily; only their dialects are used here.
DIALECTS = [create_engine("sqlite://").dialect, create_engine("postgresql://u@h/db").dialect]

offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23))
aware = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)),
    offsets.map(lambda d: timedelta(minutes=d // timedelta(minutes=1))),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(aware)
def test_utc_datetime_keeps_the_instant_and_returns_utc(moment: datetime) -> None:
    column = UtcDateTime()
    for dialect in DIALECTS:
        stored = column.process_bind_param(moment, dialect)
        back = column.process_result_value(stored, dialect)
        assert back == moment
        assert back is not None and back.tzinfo is UTC
        if dialect.name == "sqlite":
            # Stored as the UTC wall clock, so text order is time order.
            assert stored is not None and stored.tzinfo is None


@given(json_values)
def test_compact_json_round_trips_and_is_a_fixed_point(value: Any) -> None:
    text = compact_json(value)
    assert json.loads(text) == value
    assert compact_json(json.loads(text)) == text
    assert len(text) <= len(json.dumps(value, ensure_ascii=False))  # never longer than default


@given(st.dictionaries(st.text(), st.integers(), min_size=2))
def test_compact_json_does_not_depend_on_insertion_order(value: dict[str, int]) -> None:
    reversed_order = dict(reversed(list(value.items())))
    assert compact_json(reversed_order) == compact_json(value)
