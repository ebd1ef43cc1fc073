"""Request bodies: read with a byte limit (also when streamed without a length), strict JSON."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..errors import BodyTooLarge, InvalidRequest, UnsupportedMediaType


async def read_json(request: Request, limit: int) -> Any:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "") and not kind.endswith("+json"):
        raise UnsupportedMediaType("the body must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
    try:
        return json.loads(bytes(data).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest("the body is not valid JSON", param="body") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
