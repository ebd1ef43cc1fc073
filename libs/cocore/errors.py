"""The root of every error cocore raises on purpose, grouped by how a caller should react.

    CocoreError                      code="internal"
    ├── InvalidInput                 bad syntax, bad JSON, bad key, bad signature encoding…
    ├── Unauthenticated              missing or bad credentials
    ├── PermissionDenied             authenticated, but not allowed
    ├── NotFound                     the thing does not exist
    ├── AlreadyExists                a create collided with an existing thing
    ├── FailedPrecondition           valid request, wrong state (e.g. insufficient balance)
    ├── ResourceExhausted            rate limits, oversized frames, full pools
    ├── Unavailable                  a dependency is down; retrying may help
    └── DeadlineExceeded             a dependency did not answer in time

Each package defines its own errors as subclasses of one of these groups
(`cocore.syntax.InvalidSyntaxError`, `cocore.canonical.CanonicalError`, …). The gRPC runtime
maps the group to a status code in one interceptor; the HTTP surfaces map it to their error
shapes in one handler. `code` is a stable, machine-readable string; `details` carries
non-secret numbers a client may act on (never prompt or completion text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CocoreError(Exception):
    """Root of all deliberate cocore errors."""

    default_code: ClassVar[str] = "internal"

    def __init__(
        self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message


class InvalidInput(CocoreError):
    default_code = "invalid_input"


class Unauthenticated(CocoreError):
    default_code = "unauthenticated"


class PermissionDenied(CocoreError):
    default_code = "permission_denied"


class NotFound(CocoreError):
    default_code = "not_found"


class AlreadyExists(CocoreError):
    default_code = "already_exists"


class FailedPrecondition(CocoreError):
    default_code = "failed_precondition"


class ResourceExhausted(CocoreError):
    default_code = "resource_exhausted"


class Unavailable(CocoreError):
    default_code = "unavailable"


class DeadlineExceeded(CocoreError):
    default_code = "deadline_exceeded"
