"""The gateway's errors: a stable code under a `cocore.errors` group, and the HTTP status.

`http.errors` renders every one of them in the OpenAI shape (or the XRPC shape under /xrpc)
from one exception handler; nothing else chooses a status.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cocore import errors


class GatewayError(errors.CocoreError):
    """Root of the gateway's errors. `status` and `kind` are the HTTP answer."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.param = param


class InvalidRequest(GatewayError, errors.InvalidInput):
    status, kind, default_code = 400, "invalid_request_error", "invalid_request"


class InvalidApiKey(GatewayError, errors.Unauthenticated):
    status, kind, default_code = 401, "authentication_error", "invalid_api_key"


class InsufficientBalance(GatewayError, errors.FailedPrecondition):
    status, kind, default_code = 402, "billing_error", "insufficient_balance"


class TermsNotAccepted(GatewayError, errors.PermissionDenied):
    status, kind, default_code = 403, "permission_error", "terms_not_accepted"


class Forbidden(GatewayError, errors.PermissionDenied):
    status, kind, default_code = 403, "permission_error", "forbidden"


class ModelNotFound(GatewayError, errors.NotFound):
    status, kind, default_code = 404, "invalid_request_error", "model_not_found"


class NotFoundError(GatewayError, errors.NotFound):
    status, kind, default_code = 404, "invalid_request_error", "not_found"


class MethodNotAllowed(GatewayError, errors.InvalidInput):
    status, kind, default_code = 405, "invalid_request_error", "method_not_allowed"


class BodyTooLarge(GatewayError, errors.ResourceExhausted):
    status, kind, default_code = 413, "invalid_request_error", "request_too_large"


class UnsupportedMediaType(GatewayError, errors.InvalidInput):
    status, kind, default_code = 415, "invalid_request_error", "unsupported_media_type"


class RateLimited(GatewayError, errors.ResourceExhausted):
    status, kind, default_code = 429, "rate_limit_error", "rate_limited"


class ProviderError(GatewayError, errors.Unavailable):
    """The provider failed after it was chosen (engine error, lost stream, bad chunk)."""

    status, kind, default_code = 502, "server_error", "provider_error"


class NoProviders(GatewayError, errors.Unavailable):
    status, kind, default_code = 503, "server_error", "no_providers_available"


class Unavailable(GatewayError, errors.Unavailable):
    """A dependency of the gateway (exchange, matchmaker, PDS) did not answer."""

    status, kind, default_code = 503, "server_error", "service_unavailable"


class ProviderTimeout(GatewayError, errors.DeadlineExceeded):
    status, kind, default_code = 504, "server_error", "provider_timeout"
