"""XRPC over HTTP: `GET /xrpc/<nsid>` for every query, `/_health`, one error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cocore import errors
from cocore.errors import CocoreError

from .errors import MethodNotFound
from .events import Events
from .queries import Queries, to_json_bytes

log = logging.getLogger(__name__)

# (group, HTTP status, XRPC error name), most specific first.
_ERRORS: list[tuple[type[CocoreError], int, str]] = [
    (MethodNotFound, 501, "MethodNotImplemented"),
    (errors.InvalidInput, 400, "InvalidRequest"),
    (errors.NotFound, 404, "NotFound"),
    (errors.FailedPrecondition, 400, "InvalidRequest"),
    (errors.Unauthenticated, 401, "AuthenticationRequired"),
    (errors.PermissionDenied, 403, "Forbidden"),
    (errors.ResourceExhausted, 429, "RateLimitExceeded"),
    (errors.Unavailable, 502, "UpstreamFailure"),
    (errors.DeadlineExceeded, 504, "UpstreamTimeout"),
]


def error_body(error: BaseException) -> tuple[int, dict[str, str]]:
    """The one place an error becomes an XRPC `{error, message}` body and status."""
    for group, status, name in _ERRORS:
        if isinstance(error, group):
            assert isinstance(error, CocoreError)
            return status, {"error": name, "message": error.message}
    return 500, {"error": "InternalServerError", "message": "internal error"}


def build_app(queries: Queries, events: Events, health: Callable[[], Awaitable[bool]]) -> Starlette:
    known = {str(m) for m in queries.methods}

    async def xrpc(request: Request) -> Response:
        method = request.path_params["nsid"]
        label = method if method in known else "unknown"
        started = time.perf_counter()
        body: bytes | dict[str, Any]
        if request.method != "GET":
            status, body = 405, {"error": "InvalidRequest", "message": "queries are GET only"}
        else:
            status, body = await _call(queries, method, request)
        events.xrpc_request(label, status, time.perf_counter() - started)
        if isinstance(body, bytes):
            return Response(body, status_code=status, media_type="application/json")
        return JSONResponse(body, status_code=status)

    async def health_route(request: Request) -> Response:
        ok = await health()
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    return Starlette(routes=[
        Route("/xrpc/{nsid}", xrpc, methods=["GET", "POST"]),
        Route("/_health", health_route, methods=["GET"]),
    ])  # fmt: skip


async def _call(
    queries: Queries, method: str, request: Request
) -> tuple[int, bytes | dict[str, Any]]:
    raw: dict[str, str | list[str]] = {}
    for key, value in request.query_params.multi_items():
        existing = raw.get(key)
        if existing is None:
            raw[key] = value
        else:
            raw[key] = [*([existing] if isinstance(existing, str) else existing), value]
    try:
        return 200, to_json_bytes(await queries.call(method, raw))
    except CocoreError as e:
        return error_body(e)
    except Exception:  # the handler's bug must not become a traceback on the wire
        log.exception("unhandled error in %s", method[:100])
        return error_body(RuntimeError())
