"""Compile query, procedure and subscription defs: their params, input and output bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._compile import Compiler
from ._params import Params, compile_params
from ._site import Site
from .issues import Check

_SCHEMA_TYPES = frozenset({"object", "ref", "union"})


@dataclass(frozen=True, slots=True)
class Body:
    """A declared input or output: its encoding, and a validator when it has a JSON schema."""

    encoding: str
    check: Check | None


@dataclass(frozen=True, slots=True)
class Method:
    """What the gateway and AppView check for one XRPC method."""

    kind: str
    params: Params | None
    input: Body | None
    output: Body | None


def compile_method(node: dict[str, Any], site: Site, compiler: Compiler) -> Method:
    kind = node["type"]
    params = None
    if node.get("parameters") is not None:
        params = compile_params(node["parameters"], site.at("parameters"), compiler.node)
    if kind == "subscription":
        # The message union is compiled so it is checked, but frames are not validated here.
        message = site.obj(node.get("message", {}))
        if "schema" in message:
            compiler.node(message["schema"], site.at("message").at("schema"))
        return Method(kind, params, None, None)
    if kind == "query" and "input" in node:
        raise site.at("input").fail("a query has no input")
    return Method(
        kind,
        params,
        _body(node, "input", site, compiler),
        _body(node, "output", site, compiler),
    )


def _body(node: dict[str, Any], key: str, site: Site, compiler: Compiler) -> Body | None:
    if node.get(key) is None:
        return None
    body_site = site.at(key)
    body = body_site.obj(node[key])
    encoding = body_site.req_str(body, "encoding")
    schema = body.get("schema")
    if schema is None:
        return Body(encoding, None)
    schema_site = body_site.at("schema")
    if schema_site.obj(schema).get("type") not in _SCHEMA_TYPES:
        raise schema_site.fail("a body schema must be an object, ref or union")
    return Body(encoding, compiler.node(schema, schema_site))
