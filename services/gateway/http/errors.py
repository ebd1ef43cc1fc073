"""The one exception handler: every error becomes the OpenAI shape (the XRPC shape under /xrpc).

`{"error": {"message", "type", "param", "code"}}` with the status the error class names;
429 and 503 carry `retry-after`. Unexpected exceptions are a generic 500 (and logged once).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cocore import errors as groups

from .. import events
from ..errors import GatewayError

log = logging.getLogger("cocore.gateway")

_GROUP_STATUS: dict[type[groups.CocoreError], tuple[int, str]] = {
    groups.InvalidInput: (400, "invalid_request_error"),
    groups.Unauthenticated: (401, "authentication_error"),
    groups.PermissionDenied: (403, "permission_error"),
    groups.NotFound: (404, "invalid_request_error"),
    groups.AlreadyExists: (409, "invalid_request_error"),
    groups.FailedPrecondition: (400, "invalid_request_error"),
    groups.ResourceExhausted: (429, "rate_limit_error"),
    groups.Unavailable: (503, "server_error"),
    groups.DeadlineExceeded: (504, "server_error"),
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
_XRPC_NAMES = {400: "InvalidRequest", 401: "AuthRequired", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotImplemented", 413: "PayloadTooLarge", 415: "InvalidRequest",
               429: "RateLimitExceeded", 503: "UpstreamFailure",
               504: "UpstreamTimeout"}  # fmt: skip


def describe(exc: BaseException) -> tuple[int, str, str, str, str | None, dict[str, Any]]:
    """(status, type, code, message, param, details) for any exception."""
    if isinstance(exc, GatewayError):
        return exc.status, exc.kind, exc.code, exc.message, exc.param, exc.details
    if isinstance(exc, HTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return exc.status_code, "invalid_request_error", code, str(exc.detail), None, {}
    if isinstance(exc, groups.CocoreError):
        for group, (status, kind) in _GROUP_STATUS.items():
            if isinstance(exc, group):
                return status, kind, exc.code, exc.message, None, {}
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return 500, "server_error", "internal", "internal error", None, {}


def error_body(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, kind, code, message, param, details = describe(exc)
    error: dict[str, Any] = {"message": message, "type": kind, "param": param, "code": code}
    extra = {k: v for k, v in details.items() if k in _PUBLIC_DETAILS}
    if extra:
        error["details"] = extra
    headers = {}
    if status in (429, 503) and isinstance(details.get("retry_after_s"), int):
        headers["retry-after"] = str(details["retry_after_s"])
    return status, {"error": error}, headers


# Details a client may act on: numbers and the terms to accept (never request content).
_PUBLIC_DETAILS = frozenset({
    "balance", "available", "required", "short_by", "budget", "spent", "ceiling", "limit",
    "retry_after_s", "terms_uri", "terms_version", "reason", "provider_code",
})  # fmt: skip


async def handle(request: Request, exc: Exception) -> Response:
    status, body, headers = error_body(exc)
    code = body["error"]["code"]
    events.answered(_route(request), status, code)
    if request.url.path.startswith("/xrpc/"):
        xrpc = {"error": _XRPC_NAMES.get(status, "InternalServerError"),
                "message": body["error"]["message"], "code": code}  # fmt: skip
        return JSONResponse(xrpc, status, headers=headers)
    return JSONResponse(body, status, headers=headers)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")
