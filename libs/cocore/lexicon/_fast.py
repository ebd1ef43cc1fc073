"""Generated fast paths: one Python function per record type, exec'd once at load.

A fast check answers one question, "is this record certainly valid?", with no issue list, no
per-node call and no path strings: the schema is unrolled into straight-line code (like
fastjsonschema). It also proves what `canonicalize` would: only exact JSON types, ASCII keys,
integers within ±(2^53−1), no floats, bytes or lone surrogates, bounded depth. True means
`validate_record` gives [] and `canonicalize` accepts the record; False only means "not
shown", and the closure validators (`_compile.py`) then run to find the exact issues. So the
fast path may refuse more than it must (str subclasses, tuples, non-ASCII text lengths go
to helpers or the slow path) but never accepts what the slow path would refuse.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from cocore.canonical import MAX_SAFE_INTEGER, check_value

from ._blob import compile_blob
from ._compile import Compiler, def_key, type_name
from ._formats import FORMATS
from ._primitives import graphemes_problem
from ._site import Site
from ._text import base64_length
from .issues import Check, Issues, TooManyIssues

FastCheck = Callable[[Any], bool]

# Generated nesting stays far below canonical's depth bound (64) and Python's indentation limit.
_MAX_STATIC_DEPTH = 24
_MISSING = object()


class _Bail(Exception):
    """The schema has a shape the generator does not unroll: that record keeps the slow path."""


def compile_fast(compiler: Compiler, nsid: str, site: Site) -> FastCheck | None:
    """The fast check for the record def `nsid#main` (already compiled by `compiler`)."""
    try:
        return _Generator(compiler).record(nsid, site)
    except (_Bail, RecursionError, SyntaxError):
        return None


def _text_ok(s: str, lo: int, hi: int, glo: int | None = None, ghi: int | None = None) -> bool:
    """Length bounds in UTF-8 bytes (and graphemes), refusing lone surrogates."""
    if s.isascii():
        n = len(s)
    else:
        try:
            n = len(s.encode("utf-8"))
        except UnicodeEncodeError:
            return False
    if n < lo or n > hi:
        return False
    return (glo is None and ghi is None) or graphemes_problem(s, glo, ghi) is None


def _bytes_ok(v: Any, lo: int, hi: int) -> bool:
    if type(v) is dict:
        if len(v) != 1:
            return False
        v = v.get("$bytes")
    if type(v) is not str:
        return False
    n = base64_length(v)
    return n is not None and lo <= n <= hi


_CID = FORMATS["cid"]


def _link_ok(v: Any) -> bool:
    if type(v) is not dict or len(v) != 1:
        return False
    link = v.get("$link")
    return type(link) is str and _CID(link) is None


def _canon_ok(value: Any, depth: int) -> bool:
    return check_value(value, depth)


def _extras_ok(obj: dict[Any, Any], known: frozenset[str], depth: int) -> bool:
    """Undeclared members of an object at `depth`: only canonical JSON is asked of them."""
    for key, value in obj.items():
        if key in known:
            continue
        if type(key) is not str or not key.isascii() or not check_value(value, depth + 1):
            return False
    return True


def _slow_ok(check: Check, value: Any, path: str, depth: int) -> bool:
    """A node the generator leaves to its closure (blobs, recursive refs)."""
    out = Issues()
    try:
        check(value, path, out)
    except TooManyIssues:
        return False
    return not out and check_value(value, depth)


_HELPERS: dict[str, Any] = {
    "_MISSING": _MISSING,
    "_text_ok": _text_ok,
    "_bytes_ok": _bytes_ok,
    "_link_ok": _link_ok,
    "_canon_ok": _canon_ok,
    "_extras_ok": _extras_ok,
    "_slow_ok": _slow_ok,
}


class _At(NamedTuple):
    """Where generated code checks a value: its variable, JSON path, depth and indent."""

    var: str
    path: str
    depth: int
    indent: int

    def member(self, var: str, key: str, indent: int) -> _At:
        return _At(var, f"{self.path}.{key}" if self.path else key, self.depth + 1, indent)

    def item(self, var: str) -> _At:
        return _At(var, f"{self.path}[0]", self.depth + 1, self.indent + 1)


class _Generator:
    def __init__(self, compiler: Compiler) -> None:
        self._compiler = compiler
        self._lines: list[str] = []
        self._env: dict[str, Any] = dict(_HELPERS)
        self._count = 0
        self._inlining: list[str] = []  # def keys being unrolled (a repeat is a cycle)

    def record(self, nsid: str, site: Site) -> FastCheck:
        key = f"{nsid}#main"
        node, def_site = self._compiler.lookup(key, site)
        self._emit(1, "if type(v) is not dict: return False")
        self._emit(1, f"t = v.get('$type', {nsid!r})")
        self._emit(1, f"if type(t) is not str or t != {nsid!r}: return False")
        self._inlining.append(key)
        self._object(node["record"], def_site.at("record"), _At("v", "", 0, 1), ("$type",))
        self._emit(1, "return True")
        source = "def fast(v):\n" + "\n".join(self._lines) + "\n"
        exec(compile(source, f"<lexicon fast path {nsid}>", "exec"), self._env)  # noqa: S102
        check: FastCheck = self._env["fast"]
        return check

    # ------------------------------------------------------------ helpers

    def _emit(self, indent: int, line: str) -> None:
        self._lines.append("    " * indent + line)

    def _fail_if(self, at: _At, condition: str) -> None:
        self._emit(at.indent, f"if {condition}: return False")

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def _const(self, value: Any) -> str:
        name = self._name("C")
        self._env[name] = value
        return name

    def _slow(self, check: Check, at: _At) -> None:
        self._fail_if(at, f"not _slow_ok({self._const(check)}, {at.var}, {at.path!r}, {at.depth})")

    # ------------------------------------------------------------ nodes

    def _object(
        self, node: dict[str, Any], site: Site, at: _At, extra: tuple[str, ...] = ()
    ) -> None:
        """Members of the dict `at.var` (already known to be a dict)."""
        if at.depth > _MAX_STATIC_DEPTH:
            raise _Bail
        x, ind = at.var, at.indent
        props: dict[str, Any] = node.get("properties", {})
        if any(not k.isascii() or k == "$type" for k in props):
            raise _Bail  # canonical JSON would refuse the key; leave it to the slow path
        known = self._const(frozenset(props) | frozenset(extra))
        self._fail_if(at, f"not {x}.keys() <= {known} and not _extras_ok({x}, {known}, {at.depth})")
        required = frozenset(node.get("required", ()))
        if required:
            self._fail_if(at, f"not {self._const(required)} <= {x}.keys()")
        nullable = frozenset(node.get("nullable", ()))
        props_site = site.at("properties")
        optional = [k for k in props if k not in required]
        if optional:  # records often carry none: one subset test then skips every lookup
            bare = self._const(required | frozenset(extra))
            self._emit(ind, f"if not {x}.keys() <= {bare}:")
            for key in optional:
                self._member(key, props[key], props_site, nullable, at._replace(indent=ind + 1))
        for key, prop in props.items():
            if key in required:
                self._member(key, prop, props_site, nullable, at, required=True)

    def _member(
        self,
        key: str,
        prop: dict[str, Any],
        props_site: Site,
        nullable: frozenset[str],
        at: _At,
        *,
        required: bool = False,
    ) -> None:
        """One declared property of the dict `at.var`."""
        x, ind, y = at.var, at.indent, self._name("y")
        conditions = []
        if required:
            self._emit(ind, f"{y} = {x}[{key!r}]")
        else:
            self._emit(ind, f"{y} = {x}.get({key!r}, _MISSING)")
            conditions.append(f"{y} is not _MISSING")
        if key in nullable:
            conditions.append(f"{y} is not None")
        if conditions:
            self._emit(ind, f"if {' and '.join(conditions)}:")
        self._value(prop, props_site.at(key), at.member(y, key, ind + bool(conditions)))

    def _value(self, node: dict[str, Any], site: Site, at: _At) -> None:
        kind = node["type"]
        leaf = _LEAVES.get(kind)
        if leaf is not None:
            self._fail_if(at, leaf(node, at.var, at.depth))
        elif kind == "string":
            self._string(node, at)
        elif kind == "integer":
            self._integer(node, at)
        elif kind == "blob":
            self._slow(compile_blob(node, site), at)
        elif kind == "object":
            self._fail_if(at, f"type({at.var}) is not dict")
            self._object(node, site, at)
        elif kind == "array":
            self._array(node, site, at)
        elif kind == "ref":
            self._ref(def_key(node["ref"], site), site.at("ref"), at)
        elif kind == "union":
            self._union(node, site, at)
        else:
            raise _Bail

    def _string(self, node: dict[str, Any], at: _At) -> None:
        y = at.var
        const = node.get("const")
        enum = [const] if const is not None else node.get("enum")
        lo, hi = node.get("minLength") or 0, node.get("maxLength", sys.maxsize)
        glo, ghi = node.get("minGraphemes"), node.get("maxGraphemes")
        if glo is not None or ghi is not None:
            measured = f"_text_ok({y}, {lo}, {hi}, {glo}, {ghi})"
        elif lo or hi != sys.maxsize:
            measured = f"({lo} <= len({y}) <= {hi} if {y}.isascii() else _text_ok({y}, {lo}, {hi}))"
        else:
            measured = f"({y}.isascii() or _text_ok({y}, 0, {hi}))"
        self._fail_if(at, f"type({y}) is not str or not {measured}")
        if enum is not None:
            self._fail_if(at, f"{y} not in {self._const(frozenset(enum))}")
        fmt = node.get("format")
        if fmt is not None:
            self._fail_if(at, f"{self._const(FORMATS[fmt])}({y}) is not None")

    def _integer(self, node: dict[str, Any], at: _At) -> None:
        y = at.var
        lo = max(node.get("minimum", -MAX_SAFE_INTEGER), -MAX_SAFE_INTEGER)
        hi = min(node.get("maximum", MAX_SAFE_INTEGER), MAX_SAFE_INTEGER)
        self._fail_if(at, f"type({y}) is not int or not {lo} <= {y} <= {hi}")
        const = node.get("const")
        allowed = [const] if const is not None else node.get("enum")
        if allowed is not None:
            self._fail_if(at, f"{y} not in {self._const(frozenset(allowed))}")

    def _array(self, node: dict[str, Any], site: Site, at: _At) -> None:
        if at.depth > _MAX_STATIC_DEPTH:
            raise _Bail
        y = at.var
        lo, hi = node.get("minLength") or 0, node.get("maxLength", sys.maxsize)
        self._fail_if(at, f"type({y}) is not list or not {lo} <= len({y}) <= {hi}")
        z = self._name("z")
        self._emit(at.indent, f"for {z} in {y}:")
        self._value(node["items"], site.at("items"), at.item(z))

    def _ref(self, key: str, site: Site, at: _At) -> None:
        if key in self._inlining:  # a recursive schema: its closure bounds the depth
            self._slow(self._compiler.definition(key, site), at)
            return
        node, def_site = self._compiler.lookup(key, site)
        self._inlining.append(key)
        kind = node["type"]
        if kind == "token":
            token = type_name(key)
            self._fail_if(at, f"type({at.var}) is not str or {at.var} != {token!r}")
        elif kind == "record":
            self._fail_if(at, f"type({at.var}) is not dict")
            self._object(node["record"], def_site.at("record"), at)
        else:
            self._value(node, def_site, at)
        self._inlining.pop()

    def _union(self, node: dict[str, Any], site: Site, at: _At) -> None:
        y, ind = at.var, at.indent
        t = self._name("t")
        self._fail_if(at, f"type({y}) is not dict")
        self._emit(ind, f"{t} = {y}.get('$type')")
        self._fail_if(at, f"type({t}) is not str")
        refs = node.get("refs", [])
        inner = at._replace(indent=ind + 1)
        for i, ref in enumerate(refs):
            key = def_key(ref, site)
            name = type_name(key)
            keyword = "if" if i == 0 else "elif"
            self._emit(ind, f"{keyword} {t} == {name!r} or {t} == {name + '#main'!r}:")
            self._union_member(key, site.at("refs").at(i), inner)
        if refs:
            self._emit(ind, "else:")
        # An open union lets other types through: only canonical JSON is asked of them.
        closed = node.get("closed") is True
        self._emit(inner.indent if refs else ind, "return False" if closed else (
            f"if not _canon_ok({y}, {at.depth}): return False"
        ))  # fmt: skip

    def _union_member(self, key: str, site: Site, at: _At) -> None:
        if key in self._inlining:
            self._slow(self._compiler.definition(key, site), at)
            return
        node, def_site = self._compiler.lookup(key, site)
        if node["type"] == "record":
            node, def_site = node["record"], def_site.at("record")
        self._inlining.append(key)
        self._object(node, def_site, at, ("$type",))
        self._inlining.pop()


# The leaves whose whole check is one condition (`True` = refuse), given (node, var, depth).
_LEAVES: dict[str, Callable[[dict[str, Any], str, int], str]] = {
    "boolean": lambda node, y, _: (
        f"type({y}) is not bool" if node.get("const") is None else f"{y} is not {node['const']!r}"
    ),
    "null": lambda _, y, __: f"{y} is not None",
    "bytes": lambda node, y, _: (
        f"not _bytes_ok({y}, {node.get('minLength') or 0}, {node.get('maxLength', sys.maxsize)})"
    ),
    "cid-link": lambda _, y, __: f"not _link_ok({y})",
    "unknown": lambda _, y, depth: f"type({y}) is not dict or not _canon_ok({y}, {depth})",
}
