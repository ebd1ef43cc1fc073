"""Query-string parameters: coerce the strings to their declared types, then validate them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._site import Site
from .issues import Check, Issues, ValidationIssue

_SCALARS = frozenset({"boolean", "integer", "string", "unknown"})
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")  # ASCII digits only; int() takes "١_٢"
_BOOLS = {"true": True, "false": False}
_INVALID = object()


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter: its scalar kind, whether it is an array, and its validator."""

    kind: str
    many: bool
    check: Check
    default: Any


@dataclass(frozen=True, slots=True)
class Params:
    """The compiled `params` block of a query or procedure."""

    props: Mapping[str, Param]
    required: tuple[str, ...]

    def coerce(self, raw: Mapping[str, str | list[str]], out: Issues) -> dict[str, Any]:
        """Declared params in their JSON types, defaults filled in; undeclared ones dropped."""
        result: dict[str, Any] = {}
        for name, param in self.props.items():
            if name not in raw:
                if param.default is not None:
                    result[name] = param.default
                elif name in self.required:
                    out.append(ValidationIssue(name, "required parameter missing"))
                continue
            value = _coerce(param, raw[name], name, out)
            if value is not _INVALID:
                param.check(value, name, out)
                result[name] = value
        return result


def _coerce(param: Param, raw: str | list[str], name: str, out: Issues) -> Any:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        out.append(ValidationIssue(name, "expected query-string text"))
        return _INVALID
    if not param.many and len(values) != 1:
        out.append(ValidationIssue(name, f"expected one value, got {len(values)}"))
        return _INVALID
    coerced = [
        _scalar(param.kind, v, f"{name}[{i}]" if param.many else name, out)
        for i, v in enumerate(values)
    ]
    if _INVALID in coerced:
        return _INVALID
    return coerced if param.many else coerced[0]


def _scalar(kind: str, text: str, path: str, out: Issues) -> Any:
    if kind == "integer":
        if _INT_RE.fullmatch(text):
            return int(text)
        out.append(ValidationIssue(path, "expected integer"))
        return _INVALID
    if kind == "boolean":
        if text in _BOOLS:
            return _BOOLS[text]
        out.append(ValidationIssue(path, "expected boolean (true or false)"))
        return _INVALID
    return text


def _accept(v: Any, path: str, out: Issues) -> None:
    return None


def compile_params(node: Any, site: Site, compile_node: Any) -> Params:
    """`compile_node(node, site)` compiles one property's value validator."""
    node = site.obj(node)
    if node.get("type") != "params":
        raise site.at("type").fail("parameters must be of type params")
    props_site = site.at("properties")
    props: dict[str, Param] = {}
    for name, raw in props_site.obj(node.get("properties", {})).items():
        prop_site = props_site.at(name)
        prop = prop_site.obj(raw)
        many = prop.get("type") == "array"
        item = prop_site.at("items").obj(prop.get("items")) if many else prop
        kind = item.get("type")
        if kind not in _SCALARS:
            raise prop_site.fail(
                f"a parameter must be boolean, integer, string or unknown, not {kind!r}"
            )
        # An `unknown` param arrives as opaque text, so there is nothing further to check.
        check = _accept if kind == "unknown" else compile_node(prop, prop_site)
        props[name] = Param(kind, many, check, prop.get("default"))
    required = site.str_list(node, "required")
    for i, name in enumerate(required):
        if name not in props:
            raise site.at("required").at(i).fail(f"{name!r} is not a declared parameter")
    return Params(props, required)
