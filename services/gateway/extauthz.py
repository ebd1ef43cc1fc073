"""Envoy's ext_authz gRPC service: the edge checks every API key before a request goes on.

A valid key → OK, with `x-cocore-did`, `x-cocore-key-id` and `x-cocore-edge` (the shared
edge secret) set, and the key itself stripped. Public routes, and service-auth JWTs on the
XRPC routes (the gateway verifies those), pass with the trust headers removed, so a client
can never smuggle its own. Anything else is a 401 in the OpenAI error shape.
"""

from __future__ import annotations

import json
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.service.auth.v3 import external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import status_pb2

from . import events
from .http.auth import DID_HEADER, EDGE_HEADER, KEY_HEADER
from .keys import KeyStore

PUBLIC_PREFIXES = ("/v1/models", "/openapi.json", "/healthz", "/v1/account/login")
TRUST_HEADERS = [DID_HEADER, KEY_HEADER, EDGE_HEADER]
_OK, _UNAUTHENTICATED = 0, 16
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


class EdgeAuthorizer(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, keys: KeyStore, edge_secret: str) -> None:
        self.keys = keys
        self.edge_secret = edge_secret

    async def Check(self, request: authz.CheckRequest, context: Any) -> authz.CheckResponse:
        http = request.attributes.request.http
        path = http.path.split("?", 1)[0]
        header = http.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if token.startswith("cocore-"):
            key = await self.keys.resolve(token)
            if key is None:
                return _denied("invalid, revoked or expired API key")
            self.keys.touch(key.id)
            events.edge_auth("key")
            return _allowed({DID_HEADER: key.did, KEY_HEADER: key.id,
                             EDGE_HEADER: self.edge_secret}, strip=["authorization"])  # fmt: skip
        if path.startswith(PUBLIC_PREFIXES) or (token and path.startswith("/xrpc/")):
            events.edge_auth("pass")
            return _allowed({}, strip=[])
        return _denied("missing API key: send `Authorization: Bearer cocore-…`")


def _allowed(headers: dict[str, str], strip: list[str]) -> authz.CheckResponse:
    options = [
        base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v),
                                   append_action=_OVERWRITE)
        for k, v in headers.items()
    ]  # fmt: skip
    remove = [h for h in TRUST_HEADERS if h not in headers] + strip
    return authz.CheckResponse(
        status=status_pb2.Status(code=_OK),
        ok_response=authz.OkHttpResponse(headers=options, headers_to_remove=remove),
    )


def _denied(message: str) -> authz.CheckResponse:
    events.edge_auth("denied")
    body = {"error": {"message": message, "type": "authentication_error", "param": None,
                      "code": "invalid_api_key"}}  # fmt: skip
    return authz.CheckResponse(
        status=status_pb2.Status(code=_UNAUTHENTICATED, message=message),
        denied_response=authz.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=http_status_pb2.Unauthorized),
            headers=[base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key="content-type", value="application/json"),
                append_action=_OVERWRITE)],
            body=json.dumps(body),
        ),
    )  # fmt: skip
