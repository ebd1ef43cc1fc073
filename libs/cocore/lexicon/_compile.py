"""Compile lexicon schema nodes into validator trees, resolving refs across documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._blob import compile_blob
from ._containers import array_check, object_check, union_check
from ._primitives import (
    compile_boolean,
    compile_bytes,
    compile_cid_link,
    compile_integer,
    compile_null,
    compile_string,
    compile_token_value,
    compile_unknown,
)
from ._site import Site
from .issues import MAX_DEPTH, Check, Issues, ValidationIssue

_LEAVES: dict[str, Callable[[dict[str, Any], Site], Check]] = {
    "null": compile_null,
    "boolean": compile_boolean,
    "integer": compile_integer,
    "string": compile_string,
    "bytes": compile_bytes,
    "cid-link": compile_cid_link,
    "blob": compile_blob,
    "unknown": compile_unknown,
}
_PRIMARY = frozenset({"record", "query", "procedure", "subscription"})
_RECORD_KEYS = frozenset({"tid", "nsid", "any", "record-key"})


def def_key(ref: str, site: Site) -> str:
    """Normalise a ref to `nsid#name`: `#x` is local, a bare `nsid` means `nsid#main`."""
    if ref.startswith("#"):
        return f"{site.nsid}{ref}"
    return ref if "#" in ref else f"{ref}#main"


def type_name(key: str) -> str:
    """The `$type` a union member carries for a def: `nsid` for main, else `nsid#name`."""
    return key.removesuffix("#main")


class Compiler:
    """Compiles every def once; a ref to a def being compiled (a cycle) gets a trampoline."""

    def __init__(self, docs: Mapping[str, tuple[Site, dict[str, Any]]]) -> None:
        self._docs = docs
        self._done: dict[str, Check] = {}
        self._busy: set[str] = set()

    def definition(self, key: str, site: Site) -> Check:
        """The validator for the def named by `key` (`nsid#name`); `site` is the referrer."""
        if key in self._done:
            return self._done[key]
        if key in self._busy:
            return self._trampoline(key)
        node, def_site = self.lookup(key, site)
        self._busy.add(key)
        try:
            check = self._definition(node, def_site, key)
        finally:
            self._busy.discard(key)
        self._done[key] = check
        return check

    def lookup(self, key: str, site: Site) -> tuple[dict[str, Any], Site]:
        nsid, _, name = key.partition("#")
        if nsid not in self._docs:
            raise site.fail(f"ref {key!r}: no lexicon {nsid!r} is loaded")
        doc_site, doc = self._docs[nsid]
        if name not in doc["defs"]:
            raise site.fail(f"ref {key!r}: {nsid} has no def {name!r}")
        def_site = doc_site.at("defs").at(name)
        return def_site.obj(doc["defs"][name]), def_site

    def _definition(self, node: dict[str, Any], site: Site, key: str) -> Check:
        kind = site.req_str(node, "type")
        if kind == "record":
            return self.record(node, site)
        if kind == "token":
            return compile_token_value(type_name(key))
        if kind in _PRIMARY:
            raise site.fail(f"a {kind} cannot be used as a type")
        if kind == "ref":
            self._no_alias_cycle(key, node, site)
        return self.node(node, site)

    def _no_alias_cycle(self, key: str, node: dict[str, Any], site: Site) -> None:
        # A def that is only a ref to a ref ... back to itself would recurse forever at
        # validation time without consuming any input, so it is refused here.
        seen = {key}
        while node.get("type") == "ref" and isinstance(node.get("ref"), str):
            key = def_key(node["ref"], site)
            if key in seen:
                raise site.fail(f"ref cycle through {key!r} with no object or array in between")
            seen.add(key)
            node, site = self.lookup(key, site.at("ref"))

    def record(self, node: dict[str, Any], site: Site) -> Check:
        rkey = site.opt_str(node, "key")
        if rkey is not None and rkey not in _RECORD_KEYS and not rkey.startswith("literal:"):
            raise site.at("key").fail(f"unknown record key type {rkey!r}")
        body = site.at("record").obj(node.get("record"))
        if body.get("type") != "object":
            raise site.at("record").fail("a record schema must be of type object")
        return self.node(body, site.at("record"))

    def node(self, node: Any, site: Site) -> Check:
        node = site.obj(node)
        kind = site.req_str(node, "type")
        leaf = _LEAVES.get(kind)
        if leaf is not None:
            return leaf(node, site)
        if kind == "object":
            return self._object(node, site)
        if kind == "array":
            items = self.node(node.get("items"), site.at("items"))
            return array_check(
                items, site.opt_int(node, "minLength"), site.opt_int(node, "maxLength")
            )
        if kind == "ref":
            return self.definition(def_key(site.req_str(node, "ref"), site), site.at("ref"))
        if kind == "union":
            return self._union(node, site)
        raise site.at("type").fail(f"type {kind!r} is not allowed here")

    def _object(self, node: dict[str, Any], site: Site) -> Check:
        raw = node.get("properties", {})
        props_site = site.at("properties")
        props = {k: self.node(p, props_site.at(k)) for k, p in props_site.obj(raw).items()}
        required = site.str_list(node, "required")
        nullable = site.str_list(node, "nullable")
        for field, names in (("required", required), ("nullable", nullable)):
            for i, name in enumerate(names):
                if name not in props:
                    raise site.at(field).at(i).fail(f"{name!r} is not a declared property")
        return object_check(props, required, frozenset(nullable))

    def _union(self, node: dict[str, Any], site: Site) -> Check:
        refs = site.opt_list(node, "refs", str)
        if refs is None:
            raise site.at("refs").fail("required")
        members: dict[str, Check] = {}
        for i, ref in enumerate(refs):
            key = def_key(ref, site)
            target, _ = self.lookup(key, site.at("refs").at(i))
            if target.get("type") not in ("object", "record"):
                raise site.at("refs").at(i).fail(f"union member {ref!r} is not an object")
            members[type_name(key)] = self.definition(key, site.at("refs").at(i))
        return union_check(members, closed=site.opt_bool(node, "closed") is True)

    def _trampoline(self, key: str) -> Check:
        done = self._done

        def check(v: Any, path: str, out: Issues) -> None:
            # Only recursive schemas pass through here, so only they pay for the depth bound.
            if path.count(".") + path.count("[") >= MAX_DEPTH:
                out.append(ValidationIssue(path, f"nested deeper than {MAX_DEPTH} levels"))
                return
            done[key](v, path, out)

        return check
