"""The exchange's errors, each a subclass of one `cocore.errors` group.

InvalidInput        InvalidRecord, UnsupportedCurrency, InvalidPeriod
Unauthenticated     MissingCredentials, BadCredentials
PermissionDenied    NotOwner, OperatorOnly, ServiceOnly
NotFound            HoldNotFound, SettlementNotFound, DisputeNotFound
AlreadyExists       IdempotencyConflict
FailedPrecondition  InsufficientBalance, PeriodOverlaps, PeriodNotOver, DisputeConflict,
                    NothingToRefund, NoPolicy
Unavailable         WriterStopped, DependencyUnavailable
"""

from __future__ import annotations

from cocore.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)


class InvalidRecord(InvalidInput):
    default_code = "invalid_record"


class UnsupportedCurrency(InvalidInput):
    default_code = "unsupported_currency"


class InvalidPeriod(InvalidInput):
    default_code = "invalid_period"


class MissingCredentials(Unauthenticated):
    default_code = "missing_credentials"


class BadCredentials(Unauthenticated):
    default_code = "bad_credentials"


class NotOwner(PermissionDenied):
    default_code = "not_owner"


class OperatorOnly(PermissionDenied):
    default_code = "operator_only"


class ServiceOnly(PermissionDenied):
    default_code = "service_only"


class HoldNotFound(NotFound):
    default_code = "hold_not_found"


class SettlementNotFound(NotFound):
    default_code = "settlement_not_found"


class DisputeNotFound(NotFound):
    default_code = "dispute_not_found"


class IdempotencyConflict(AlreadyExists):
    default_code = "idempotency_key_reused"


class InsufficientBalance(FailedPrecondition):
    default_code = "insufficient_balance"


class PeriodOverlaps(FailedPrecondition):
    default_code = "period_overlaps"


class PeriodNotOver(FailedPrecondition):
    default_code = "period_not_over"


class DisputeConflict(FailedPrecondition):
    default_code = "dispute_conflict"


class NothingToRefund(FailedPrecondition):
    default_code = "nothing_to_refund"


class NoPolicy(FailedPrecondition):
    default_code = "no_policy"


class WriterStopped(Unavailable):
    default_code = "writer_stopped"


class DependencyUnavailable(Unavailable):
    default_code = "dependency_unavailable"
