"""Compile the leaf lexicon types (null, boolean, integer, string, bytes, links, blobs)."""

from __future__ import annotations

import sys
from typing import Any

from ._formats import FORMATS, FormatCheck
from ._site import Site
from ._text import base64_length, grapheme_count, has_lone_surrogate, utf8_length
from .issues import Check, Issues, ValidationIssue, child, json_type, shown

_I64 = (-(2**63), 2**63 - 1)


def _expected(kind: str, value: Any) -> str:
    return f"expected {kind}, got {json_type(value)}"


def _choices(values: tuple[Any, ...]) -> str:
    listed = ", ".join(repr(v) for v in values[:8])
    return listed + (", …" if len(values) > 8 else "")


def compile_null(node: dict[str, Any], site: Site) -> Check:
    def check(v: Any, path: str, out: Issues) -> None:
        if v is not None:
            out.append(ValidationIssue(path, _expected("null", v)))

    return check


def compile_boolean(node: dict[str, Any], site: Site) -> Check:
    const = site.opt_bool(node, "const")
    site.opt_bool(node, "default")

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, bool):
            out.append(ValidationIssue(path, _expected("boolean", v)))
        elif const is not None and v is not const:
            out.append(ValidationIssue(path, f"must be {str(const).lower()}"))

    return check


def compile_integer(node: dict[str, Any], site: Site) -> Check:
    lo = site.opt_int(node, "minimum", minimum=None)
    hi = site.opt_int(node, "maximum", minimum=None)
    enum = site.opt_list(node, "enum", int)
    const = site.opt_int(node, "const", minimum=None)
    site.opt_int(node, "default", minimum=None)
    allowed = (const,) if const is not None else enum
    low = _I64[0] if lo is None else lo
    high = _I64[1] if hi is None else hi

    def bound(v: int) -> str:
        if v < low:
            return f"must be at least {lo}, got {v}" if lo is not None else "below the 64-bit range"
        return f"must be at most {hi}, got {v}" if hi is not None else "above the 64-bit range"

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, int) or isinstance(v, bool):
            out.append(ValidationIssue(path, _expected("integer", v)))
        elif v < low or v > high:
            out.append(ValidationIssue(path, bound(v)))
        elif allowed is not None and v not in allowed:
            out.append(ValidationIssue(path, f"must be one of {_choices(allowed)}, got {v}"))

    return check


def _sized(noun: str, n: int, lo: int | None, hi: int | None) -> str | None:
    if hi is not None and n > hi:
        return f"too long: {n} {noun}, at most {hi} allowed"
    if lo is not None and n < lo:
        return f"too short: {n} {noun}, at least {lo} required"
    return None


def compile_string(node: dict[str, Any], site: Site) -> Check:
    """One closure with every constraint inlined: strings are most of a record's fields."""
    const = site.opt_str(node, "const")
    enum = (const,) if const is not None else site.opt_list(node, "enum", str)
    site.opt_list(node, "knownValues", str)  # open: checked for shape only, never enforced
    site.opt_str(node, "default")
    allowed = None if enum is None else frozenset(enum)
    lo = site.opt_int(node, "minLength") or 0
    hi = site.opt_int(node, "maxLength")
    high = sys.maxsize if hi is None else hi
    glo, ghi = site.opt_int(node, "minGraphemes"), site.opt_int(node, "maxGraphemes")
    counted = glo is not None or ghi is not None
    fmt = _format(node, site)

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, str):
            out.append(ValidationIssue(path, _expected("string", v)))
            return
        if v.isascii():
            n = len(v)
        elif has_lone_surrogate(v):
            out.append(ValidationIssue(path, "not valid Unicode (contains a lone surrogate)"))
            return
        else:
            n = utf8_length(v)
        problem = None
        if allowed is not None and v not in allowed:
            problem = f"must be one of {_choices(enum or ())}, got {shown(v)}"
        elif n > high or n < lo:
            problem = _sized("bytes (UTF-8)", n, lo, hi)
        elif counted:
            problem = graphemes_problem(v, glo, ghi)
        if problem is None and fmt is not None:
            problem = fmt(v)
        if problem is not None:
            out.append(ValidationIssue(path, problem))

    return check


def _format(node: dict[str, Any], site: Site) -> FormatCheck | None:
    fmt = site.opt_str(node, "format")
    if fmt is not None and fmt not in FORMATS:
        raise site.at("format").fail(f"unknown string format {fmt!r}")
    return None if fmt is None else FORMATS[fmt]


def graphemes_problem(s: str, lo: int | None, hi: int | None) -> str | None:
    # Graphemes never outnumber code points, so short strings skip the count.
    if (lo is None or lo == 0) and hi is not None and len(s) <= hi:
        return None
    return _sized("graphemes", grapheme_count(s), lo, hi)


def compile_bytes(node: dict[str, Any], site: Site) -> Check:
    lo, hi = site.opt_int(node, "minLength"), site.opt_int(node, "maxLength")

    def check(v: Any, path: str, out: Issues) -> None:
        if isinstance(v, str):
            n = base64_length(v)
        elif isinstance(v, dict) and len(v) == 1 and isinstance(v.get("$bytes"), str):
            n = base64_length(v["$bytes"])
        else:
            out.append(ValidationIssue(path, _expected("bytes (a base64 string)", v)))
            return
        if n is None:
            out.append(ValidationIssue(path, "invalid base64 (bytes are standard base64 text)"))
            return
        problem = _sized("bytes", n, lo, hi)
        if problem is not None:
            out.append(ValidationIssue(path, problem))

    return check


def check_cid_link(v: Any, path: str, out: Issues) -> None:
    """A `{"$link": "<cid>"}` object."""
    if not (isinstance(v, dict) and len(v) == 1 and isinstance(v.get("$link"), str)):
        out.append(ValidationIssue(path, _expected('a cid-link {"$link": <cid>}', v)))
        return
    problem = FORMATS["cid"](v["$link"])
    if problem is not None:
        out.append(ValidationIssue(child(path, "$link"), problem))


def compile_cid_link(node: dict[str, Any], site: Site) -> Check:
    return check_cid_link


def check_unknown(v: Any, path: str, out: Issues) -> None:
    """`unknown` admits any JSON object (not a bare scalar or array)."""
    if not isinstance(v, dict):
        out.append(ValidationIssue(path, _expected("object", v)))


def compile_unknown(node: dict[str, Any], site: Site) -> Check:
    return check_unknown


def compile_token_value(token_id: str) -> Check:
    """A ref to a token: the value is the token's own id as a string."""

    def check(v: Any, path: str, out: Issues) -> None:
        if v != token_id:
            out.append(ValidationIssue(path, f"expected the token {token_id!r}"))

    return check
