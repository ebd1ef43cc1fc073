"""Build the validators for objects, arrays and unions from their compiled children."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .issues import Check, Issues, ValidationIssue, child, json_type, shown


def object_check(
    props: Mapping[str, Check], required: tuple[str, ...], nullable: frozenset[str]
) -> Check:
    """Declared properties are checked; extra ones pass (lexicon objects are open)."""
    props = dict(props)
    needed = frozenset(required)

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, dict):
            out.append(ValidationIssue(path, f"expected object, got {json_type(v)}"))
            return
        if not needed <= v.keys():  # one C-level test in the common, complete case
            for key in required:
                if key not in v:
                    out.append(ValidationIssue(child(path, key), "required field missing"))
        for key, value in v.items():
            validate = props.get(key)
            if validate is None or (value is None and key in nullable):
                continue
            validate(value, f"{path}.{key}" if path else key, out)

    return check


def array_check(items: Check, lo: int | None, hi: int | None) -> Check:
    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, (list, tuple)):
            out.append(ValidationIssue(path, f"expected array, got {json_type(v)}"))
            return
        n = len(v)
        if hi is not None and n > hi:
            # Items of an over-long array are not checked: the length alone rejects it.
            out.append(ValidationIssue(path, f"too long: {n} items, at most {hi} allowed"))
            return
        if lo is not None and n < lo:
            out.append(ValidationIssue(path, f"too short: {n} items, at least {lo} required"))
        for i, item in enumerate(v):
            items(item, f"{path}[{i}]", out)

    return check


def union_check(members: Mapping[str, Check], closed: bool) -> Check:
    """Members are keyed by normalised `$type` (`nsid` for `nsid#main`)."""
    members = dict(members)
    names = ", ".join(repr(m) for m in members)

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, dict):
            out.append(
                ValidationIssue(path, f"expected object (a union member), got {json_type(v)}")
            )
            return
        kind = v.get("$type")
        if not isinstance(kind, str):
            out.append(ValidationIssue(child(path, "$type"), "a union member needs a $type string"))
            return
        validate = members.get(kind.removesuffix("#main"))
        if validate is not None:
            validate(v, path, out)
        elif closed:
            msg = f"{shown(kind)} is not one of the closed union's types ({names})"
            out.append(ValidationIssue(child(path, "$type"), msg))

    return check
