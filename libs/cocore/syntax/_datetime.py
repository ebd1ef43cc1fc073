"""Datetimes in the atproto profile of RFC 3339, kept exactly as written (never reformatted)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ._base import _PARSED, SyntaxString, reject, require_str

_DT_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]{1,9}))?(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})"
)


class Datetime(SyntaxString):
    """An RFC 3339 timestamp with a timezone. The string is what gets signed; use `.value`."""

    __slots__ = ()
    kind = "datetime"

    @property
    def value(self) -> datetime:
        return _to_datetime(self)


def _to_datetime(s: str) -> datetime:
    m = _DT_RE.fullmatch(s)
    assert m is not None
    frac = (m["frac"] or "")[:6].ljust(6, "0")
    tz = "+00:00" if m["tz"] == "Z" else m["tz"]
    return datetime.fromisoformat(f"{m['date']}T{m['time']}.{frac}{tz}").astimezone(UTC)


def parse_datetime(value: object) -> Datetime:
    """Parse `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `-00:00` and lowercase t/z are refused."""
    s = require_str("datetime", value, 64)
    m = _DT_RE.fullmatch(s)
    if not m or m["tz"] == "-00:00":
        raise reject("datetime", s, "expected RFC 3339 such as 2026-05-07T12:00:03Z")
    try:
        _to_datetime(s)
    except ValueError as e:
        raise reject("datetime", s, str(e)) from e
    return Datetime(s, _PARSED)


def format_datetime(moment: datetime) -> Datetime:
    """Write an aware datetime as UTC with millisecond precision and a Z."""
    if moment.tzinfo is None:
        raise reject("datetime", moment.isoformat(), "naive datetimes are ambiguous")
    utc = moment.astimezone(UTC)
    return Datetime(utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z", _PARSED)
