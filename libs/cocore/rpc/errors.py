"""The one place cocore error groups become gRPC statuses, and statuses become errors again."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from cocore import errors
from cocore.rpc._wrap import GuardInterceptor

log = logging.getLogger(__name__)

ERROR_DOMAIN = "cocore"  # ErrorInfo.domain on every status this runtime sends
INTERNAL_MESSAGE = "internal error"
_DETAILS_KEY = "grpc-status-details-bin"

STATUS_BY_GROUP: Mapping[type[errors.CocoreError], grpc.StatusCode] = {
    errors.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
}
GROUP_BY_STATUS: Mapping[grpc.StatusCode, type[errors.CocoreError]] = {
    status: group for group, status in STATUS_BY_GROUP.items()
}


class ErrorMappingInterceptor(GuardInterceptor):
    """Turns a raised cocore error into its status; anything else into a generic INTERNAL."""

    def guard(self, context: Any, method: str) -> AbstractAsyncContextManager[None]:
        return _mapped_errors(context, method)


@asynccontextmanager
async def _mapped_errors(context: Any, method: str) -> AsyncIterator[None]:
    try:
        yield
    except grpc.aio.AbortError:
        raise  # the handler already chose its status with context.abort()
    except Exception as e:
        status = status_for(e)
        if status.code == grpc.StatusCode.INTERNAL:
            # The method name and traceback only: the request itself is never logged.
            log.exception("unhandled error in %s", method)
        await context.abort_with_status(status)


def group_of(error: BaseException) -> type[errors.CocoreError] | None:
    """The cocore error group `error` belongs to, or None for anything unexpected."""
    return next((c for c in type(error).__mro__ if c in STATUS_BY_GROUP), None)


def status_for(error: BaseException) -> grpc.Status:
    """The gRPC status (with a google.rpc.Status + ErrorInfo detail) that answers `error`."""
    parts = parts_for(error)
    return _status(grpc.StatusCode[parts.status], parts.message, parts.code, parts.details)


def _status(
    code: grpc.StatusCode, message: str, reason: str, details: Mapping[str, Any]
) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=ERROR_DOMAIN, metadata=stringify_details(details)
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    proto = status_pb2.Status(code=code.value[0], message=message, details=[packed])
    return rpc_status.to_status(proto)


@dataclass(frozen=True, slots=True)
class ErrorParts:
    """A status as plain fields, for an error that travels inside a message (one job's end
    on a stream many jobs share) instead of ending the call; `status` is a StatusCode name."""

    status: str
    code: str
    message: str
    details: dict[str, str]


def parts_for(error: BaseException) -> ErrorParts:
    """The status that answers `error`, as fields: anything unexpected is a generic INTERNAL
    (its text never reaches the caller)."""
    group = group_of(error)
    if group is None or not isinstance(error, errors.CocoreError):
        return ErrorParts(grpc.StatusCode.INTERNAL.name, "internal", INTERNAL_MESSAGE, {})
    return ErrorParts(STATUS_BY_GROUP[group].name, error.code, error.message,
                      stringify_details(error.details))  # fmt: skip


def error_from_parts(parts: ErrorParts) -> errors.CocoreError:
    """The typed error `parts` carries, as `error_from_rpc` rebuilds it from a status."""
    status = grpc.StatusCode.__members__.get(parts.status, grpc.StatusCode.UNKNOWN)
    group = GROUP_BY_STATUS.get(status, errors.CocoreError)
    return group(parts.message or group.default_code, code=parts.code or None,
                 details=parts.details)  # fmt: skip


def stringify_details(details: Mapping[str, Any]) -> dict[str, str]:
    """ErrorInfo metadata is string → string: strings pass through, the rest become JSON."""
    return {str(k): v if isinstance(v, str) else _json(v) for k, v in details.items()}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class RpcErrorLike(Protocol):
    """What `error_from_rpc` reads: grpc.aio.AioRpcError (and the sync grpc.RpcError calls)."""

    def code(self) -> Any: ...
    def details(self) -> str | None: ...
    def trailing_metadata(self) -> Any: ...


def error_from_rpc(error: RpcErrorLike) -> errors.CocoreError:
    """Rebuild the typed cocore error a failed call carries (its group, code and details).

    Details come back as the strings the server sent. A status without an ErrorInfo
    (a transport failure, a deadline hit on the client) still maps to its group.
    """
    info = _error_info(error.trailing_metadata() or ())
    reason, details = (info.reason, dict(info.metadata)) if info is not None else ("", {})
    code = error.code()
    status = code.name if isinstance(code, grpc.StatusCode) else ""
    return error_from_parts(ErrorParts(status, reason, error.details() or "", details))


def _error_info(metadata: Iterable[tuple[str, Any]]) -> error_details_pb2.ErrorInfo | None:
    for key, value in metadata:
        if key != _DETAILS_KEY:
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return None  # a garbled detail must not hide the status code itself
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == ERROR_DOMAIN:
                return info
    return None
