"""Compile the `blob` type: `{"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}`."""

from __future__ import annotations

from typing import Any

from ._primitives import check_cid_link
from ._site import Site
from .issues import Check, Issues, ValidationIssue, child, json_type, shown


def _mime_matcher(accept: tuple[str, ...] | None) -> Any:
    if not accept or "*/*" in accept:
        return None
    exact = frozenset(a for a in accept if not a.endswith("/*"))
    prefixes = tuple(a[:-1] for a in accept if a.endswith("/*"))  # "image/*" -> "image/"
    return lambda m: m in exact or m.startswith(prefixes)


def compile_blob(node: dict[str, Any], site: Site) -> Check:
    accept = site.opt_list(node, "accept", str)
    max_size = site.opt_int(node, "maxSize")
    matches = _mime_matcher(accept)

    def check(v: Any, path: str, out: Issues) -> None:
        if not isinstance(v, dict):
            out.append(ValidationIssue(path, f"expected blob, got {json_type(v)}"))
            return
        if v.get("$type") != "blob":
            out.append(ValidationIssue(child(path, "$type"), "a blob must have $type 'blob'"))
        check_cid_link(v.get("ref"), child(path, "ref"), out)
        mime = v.get("mimeType")
        if not isinstance(mime, str) or not mime:
            out.append(ValidationIssue(child(path, "mimeType"), "expected a MIME type string"))
        elif matches is not None and not matches(mime):
            out.append(ValidationIssue(child(path, "mimeType"), f"{shown(mime)} not accepted"))
        size = v.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            out.append(ValidationIssue(child(path, "size"), "expected a non-negative integer"))
        elif max_size is not None and size > max_size:
            msg = f"too large: {size} bytes, at most {max_size} allowed"
            out.append(ValidationIssue(child(path, "size"), msg))

    return check
