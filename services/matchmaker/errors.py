"""The matchmaker's errors: each one a stable code under a `cocore.errors` group."""

from __future__ import annotations

from cocore import errors


class MatchmakerError(errors.CocoreError):
    """Root of the matchmaker's errors (never raised itself)."""


# ---------------------------------------------------------------- provider streams


class RegisterInvalid(MatchmakerError, errors.InvalidInput):
    default_code = "register_invalid"


class ProtocolViolation(MatchmakerError, errors.InvalidInput):
    default_code = "protocol_violation"


class RegisterAuthFailed(MatchmakerError, errors.Unauthenticated):
    default_code = "register_auth_failed"


class ChallengeFailed(MatchmakerError, errors.Unauthenticated):
    default_code = "challenge_failed"


class AttestationInvalid(MatchmakerError, errors.PermissionDenied):
    default_code = "attestation_invalid"


class AttestationUnreachable(MatchmakerError, errors.Unavailable):
    default_code = "attestation_unreachable"


class StreamTimeout(MatchmakerError, errors.DeadlineExceeded):
    default_code = "stream_timeout"


class StreamClosed(MatchmakerError, errors.Unavailable):
    """The matchmaker ended the stream: replaced by a newer one, draining, lost ownership."""

    default_code = "stream_closed"


class PoolFull(MatchmakerError, errors.ResourceExhausted):
    default_code = "pool_full"


# ---------------------------------------------------------------- gateway API


class ServiceAuthFailed(MatchmakerError, errors.Unauthenticated):
    default_code = "service_auth_failed"


class DispatchInvalid(MatchmakerError, errors.InvalidInput):
    default_code = "dispatch_invalid"


class LeaseInvalid(MatchmakerError, errors.InvalidInput):
    default_code = "lease_invalid"


class PickRefused(MatchmakerError):
    """Nothing qualifies; `code` names the filter that emptied the pool."""


class NoProviders(PickRefused, errors.Unavailable):
    default_code = "no_providers"


class NoProvidersForModel(PickRefused, errors.NotFound):
    default_code = "no_providers_for_model"


class ProvidersBusy(PickRefused, errors.ResourceExhausted):
    default_code = "providers_busy"
