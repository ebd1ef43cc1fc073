"""A small async XRPC client: JSON queries and procedures, typed errors, bounded responses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ._closing import AsyncCloseable
from .errors import (
    AtprotoTimeout,
    AtprotoUnavailable,
    ResponseTooLarge,
    XrpcAlreadyExists,
    XrpcError,
    XrpcExpiredToken,
    XrpcForbidden,
    XrpcInvalidRequest,
    XrpcNotFound,
    XrpcRateLimited,
    XrpcServerError,
    XrpcSwapMismatch,
    XrpcUnauthenticated,
)

ParamValue = str | int | bool | Sequence[str] | None

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 64 << 20  # a whole-repo CAR from getRepo can be large

_BY_ERROR: dict[str, type[XrpcError]] = {
    "ExpiredToken": XrpcExpiredToken,
    "InvalidSwap": XrpcSwapMismatch,
    "RateLimitExceeded": XrpcRateLimited,
    "HandleNotAvailable": XrpcAlreadyExists,
    "AlreadyExists": XrpcAlreadyExists,
    **dict.fromkeys(("RecordNotFound", "RepoNotFound", "BlobNotFound", "NotFound"), XrpcNotFound),
    **dict.fromkeys(
        ("AuthMissing", "AuthRequired", "AuthenticationRequired", "InvalidToken", "BadJwt"),
        XrpcUnauthenticated,
    ),
}
_BY_STATUS: dict[int, type[XrpcError]] = {
    401: XrpcUnauthenticated,
    403: XrpcForbidden,
    404: XrpcNotFound,
    429: XrpcRateLimited,
}


def error_for(status: int, body: bytes, method: str) -> XrpcError:
    """The typed exception for an XRPC error response (`{error, message}` body when present)."""
    error, message = _error_fields(body)
    cls = _BY_ERROR.get(error) or _BY_STATUS.get(status)
    if cls is None:
        cls = XrpcServerError if status >= 500 else XrpcInvalidRequest
    # The PDS answers getRecord on an unknown repo with a bare InvalidRequest.
    if cls is XrpcInvalidRequest and message.startswith("Could not locate record"):
        cls = XrpcNotFound
    return cls(status, error or f"HTTP{status}", message, method=method)


def _error_fields(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    error, message = data.get("error"), data.get("message")
    return (
        error if isinstance(error, str) else "",
        message if isinstance(message, str) else "",
    )


def encode_params(params: Mapping[str, ParamValue] | None) -> httpx.QueryParams:
    """XRPC query parameters: None dropped, booleans as true/false, sequences repeated."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, (str, int)):
            out.append((key, str(value)))
        else:
            out.extend((key, str(v)) for v in value)
    return httpx.QueryParams(out)


class XrpcClient(AsyncCloseable):
    """Calls `<service>/xrpc/<method>`; one instance per service, safe to share between tasks."""

    def __init__(
        self,
        service_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` (without `http`): how the client it makes connects (for a DID
        document's PDS: `IdentityResolver.transport()`, which checks where the name resolves)."""
        self.service_url = service_url.rstrip("/")
        self._timeout_s = timeout_s
        self._max_bytes = max_response_bytes
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False,
            transport=transport,
        )  # fmt: skip

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def query(
        self,
        method: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        auth: str | None = None,
    ) -> Any:
        """GET a query and return its JSON body."""
        return _json_body(await self._send("GET", method, params, None, auth), method)

    async def query_bytes(
        self,
        method: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        auth: str | None = None,
    ) -> bytes:
        """GET a query whose output is binary (a CAR from `com.atproto.sync.getRepo`)."""
        return await self._send("GET", method, params, None, auth)

    async def procedure(
        self, method: str, body: Mapping[str, Any] | None = None, *, auth: str | None = None
    ) -> Any:
        """POST a procedure with a JSON body and return its JSON output (None when empty)."""
        return _json_body(await self._send("POST", method, None, body, auth), method)

    async def _send(
        self,
        verb: str,
        method: str,
        params: Mapping[str, ParamValue] | None,
        body: Mapping[str, Any] | None,
        auth: str | None,
    ) -> bytes:
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        request = self._http.build_request(
            verb,
            f"{self.service_url}/xrpc/{method}",
            params=encode_params(params),
            json=dict(body) if body is not None else None,
            headers=headers,
        )
        status, data = await send_bounded(
            self._http, request, max_bytes=self._max_bytes, timeout_s=self._timeout_s, what=method
        )
        if status >= 400:
            raise error_for(status, data, method)
        return data


async def send_bounded(
    http: httpx.AsyncClient, request: httpx.Request, *, max_bytes: int, timeout_s: float, what: str
) -> tuple[int, bytes]:
    """Send a request and read at most `max_bytes` of body within `timeout_s` overall."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_bounded(http, request, max_bytes, what)
    except (TimeoutError, httpx.TimeoutException) as e:
        raise AtprotoTimeout(f"{what}: no answer within {timeout_s} s") from e
    except httpx.TransportError as e:
        raise AtprotoUnavailable(f"{what}: {type(e).__name__} talking to the service") from e


async def _read_bounded(
    http: httpx.AsyncClient, request: httpx.Request, max_bytes: int, what: str
) -> tuple[int, bytes]:
    response = await http.send(request, stream=True)
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(what, max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(what, max_bytes)
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)
    finally:
        await response.aclose()


def _too_large(what: str, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"{what}: response larger than {limit} bytes", details={"limit": limit})


def _json_body(data: bytes, method: str) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError as e:
        raise AtprotoUnavailable(f"{method}: the response is not JSON") from e
