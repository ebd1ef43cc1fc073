"""Binary versions as comparable tuples ("v0.9.32-beta" → (0, 9, 32)); unknown fails closed."""

from __future__ import annotations

import re

Version = tuple[int, ...]
_VERSION = re.compile(r"^v?(\d{1,6}(?:\.\d{1,6}){0,3})(?:[-+][0-9A-Za-z.-]*)?$")


def parse_version(text: str) -> Version | None:
    """The numeric part of `text`, or None when it is not a dotted version."""
    found = _VERSION.match(text.strip())
    if found is None:
        return None
    return tuple(int(part) for part in found.group(1).split("."))


def meets(version: Version | None, floor: Version | None) -> bool:
    """A machine with no parsable version never meets a floor (fail closed)."""
    if floor is None:
        return True
    if version is None:
        return False
    width = max(len(version), len(floor))
    return version + (0,) * (width - len(version)) >= floor + (0,) * (width - len(floor))
