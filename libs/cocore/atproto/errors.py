"""Errors of the ATProto client, each a subclass of a `cocore.errors` group."""

from __future__ import annotations

from cocore.errors import (
    AlreadyExists,
    CocoreError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)


class AtprotoError(CocoreError):
    """Root of every error raised by `cocore.atproto`."""

    default_code = "atproto_error"


# ---------------------------------------------------------------- XRPC responses


class XrpcError(AtprotoError):
    """A PDS or service answered an XRPC call with an error status and `{error, message}`."""

    default_code = "xrpc_error"

    def __init__(self, status: int, error: str, message: str, *, method: str = "") -> None:
        shown = message[:200] if message else error
        super().__init__(
            f"{method or 'xrpc'} failed ({status} {error}): {shown}",
            details={"status": status, "error": error, "method": method},
        )
        self.status = status
        self.error = error
        self.xrpc_message = message
        self.method = method


class XrpcInvalidRequest(XrpcError, InvalidInput):
    default_code = "xrpc_invalid_request"


class XrpcUnauthenticated(XrpcError, Unauthenticated):
    default_code = "xrpc_unauthenticated"


class XrpcExpiredToken(XrpcUnauthenticated):
    default_code = "xrpc_expired_token"


class XrpcForbidden(XrpcError, PermissionDenied):
    default_code = "xrpc_forbidden"


class XrpcNotFound(XrpcError, NotFound):
    default_code = "xrpc_not_found"


class XrpcAlreadyExists(XrpcError, AlreadyExists):
    default_code = "xrpc_already_exists"


class XrpcSwapMismatch(XrpcError, FailedPrecondition):
    """A compare-and-swap write (`swapRecord` / `swapCommit`) saw a different current value."""

    default_code = "xrpc_swap_mismatch"


class XrpcRateLimited(XrpcError, ResourceExhausted):
    default_code = "xrpc_rate_limited"


class XrpcServerError(XrpcError, Unavailable):
    default_code = "xrpc_server_error"


# ---------------------------------------------------------------- transport


class AtprotoUnavailable(AtprotoError, Unavailable):
    """The remote could not be reached, or answered with something that is not XRPC."""

    default_code = "atproto_unavailable"


class BadResponse(AtprotoUnavailable):
    """The remote answered 2xx with a body that does not have the documented shape."""

    default_code = "bad_response"


class AtprotoTimeout(AtprotoError, DeadlineExceeded):
    default_code = "atproto_timeout"


class ResponseTooLarge(AtprotoError, ResourceExhausted):
    default_code = "response_too_large"


# ---------------------------------------------------------------- identity


class UnsupportedDid(AtprotoError, InvalidInput):
    default_code = "unsupported_did"


class DidNotFound(AtprotoError, NotFound):
    default_code = "did_not_found"


class InvalidDidDocument(AtprotoError, InvalidInput):
    default_code = "invalid_did_document"


class HandleNotFound(AtprotoError, NotFound):
    default_code = "handle_not_found"


# ---------------------------------------------------------------- firehose


class FirehoseError(AtprotoError, Unavailable):
    """The firehose server sent an error frame we cannot recover from by reconnecting."""

    default_code = "firehose_error"


class FirehoseFutureCursor(AtprotoError, FailedPrecondition):
    """Our cursor is ahead of the server's sequence (the PDS was reset or is a different one)."""

    default_code = "firehose_future_cursor"


class FrameTooLarge(AtprotoError, ResourceExhausted):
    default_code = "firehose_frame_too_large"


class MalformedFrame(AtprotoError, InvalidInput):
    """One firehose frame could not be decoded (the consumer counts and skips these)."""

    default_code = "firehose_malformed_frame"


# ---------------------------------------------------------------- service auth


class ServiceAuthError(AtprotoError, Unauthenticated):
    """An inter-service JWT was rejected; `code` says which check failed."""

    default_code = "service_auth_invalid"


class JwtMalformed(ServiceAuthError):
    default_code = "jwt_malformed"


class JwtExpired(ServiceAuthError):
    default_code = "jwt_expired"


class JwtBadIssuedAt(ServiceAuthError):
    default_code = "jwt_bad_iat"


class JwtBadAudience(ServiceAuthError):
    default_code = "jwt_bad_audience"


class JwtBadMethod(ServiceAuthError):
    default_code = "jwt_bad_lxm"


class JwtBadIssuer(ServiceAuthError):
    default_code = "jwt_bad_issuer"


class JwtBadSignature(ServiceAuthError):
    default_code = "jwt_bad_signature"


class InvalidKey(AtprotoError, InvalidInput):
    default_code = "invalid_key"
