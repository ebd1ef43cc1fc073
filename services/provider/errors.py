"""The agent's errors (the engine and link packages have their own)."""

from __future__ import annotations

from cocore.errors import FailedPrecondition, InvalidInput, NotFound, Unavailable


class ConfigError(InvalidInput):
    default_code = "provider_config_invalid"


class NotInitialised(NotFound):
    """No keys yet: `cocore-provider init` first."""

    default_code = "provider_not_initialised"


class NotLoggedIn(NotFound):
    """No stored credentials: `cocore-provider login` first."""

    default_code = "provider_not_logged_in"


class CredentialsUnreadable(FailedPrecondition):
    """The credentials file does not decrypt here (another machine, or a replaced key)."""

    default_code = "provider_credentials_unreadable"


class PolicyUnavailable(Unavailable):
    """The exchange's active policy (its tokenRate) cannot be read and none is cached."""

    default_code = "exchange_policy_unavailable"


class PolicyInvalid(FailedPrecondition):
    default_code = "exchange_policy_invalid"


class AttestationUnusable(FailedPrecondition):
    """No attestation valid long enough for a receipt (never reference an expired one)."""

    default_code = "attestation_expired"


class RecordConflict(Unavailable):
    """The provider record kept changing under our compare-and-swap."""

    default_code = "provider_record_conflict"


class NothingToServe(FailedPrecondition):
    default_code = "no_models_loaded"
