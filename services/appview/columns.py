"""The denormalised, queryable columns of each collection, read from an already valid record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cocore.lexicon import ids

Record = Mapping[str, Any]


def _time(value: Any) -> datetime | None:
    # The lexicon already checked the RFC 3339 syntax; fromisoformat is the fast reader.
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


# Records reaching here passed their lexicon, so every object in them is a dict: the checks
# below are `isinstance(…, dict)` (one C test), not the slower ABC test for Mapping.
def _ref_uri(record: Record, field: str) -> str | None:
    ref = record.get(field)
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return uri if isinstance(uri, str) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _money(record: Record, field: str) -> tuple[int | None, str | None]:
    money = record.get(field)
    if not isinstance(money, dict):
        return None, None
    return _int(money.get("amount")), _str(money.get("currency"))


def _receipt(r: Record) -> dict[str, Any]:
    started, completed = _time(r.get("startedAt")), _time(r.get("completedAt"))
    latency = None
    if started is not None and completed is not None and completed >= started:
        latency = int((completed - started).total_seconds() * 1000)
    amount, currency = _money(r, "price")
    raw_tokens = r.get("tokens")
    tokens: Mapping[str, Any] = raw_tokens if isinstance(raw_tokens, dict) else {}
    return {
        "requester": _str(r.get("requester")),
        "job_uri": _ref_uri(r, "job"),
        "attestation_uri": _ref_uri(r, "attestation"),
        "model": _str(r.get("model")),
        "started_at": started,
        "completed_at": completed,
        "latency_ms": latency,
        "price_amount": amount,
        "price_currency": currency,
        "tokens_in": _int(tokens.get("in")),
        "tokens_out": _int(tokens.get("out")),
        "pro_bono": r.get("proBono") is True,
    }


def _settlement(r: Record) -> dict[str, Any]:
    auth = _ref_uri(r, "requesterAuthorization")
    requester = auth[5:].split("/")[0] if auth is not None and auth.startswith("at://") else None
    amount, currency = _money(r, "amountCharged")
    return {
        "receipt_uri": _ref_uri(r, "receipt"),
        "authorization_uri": auth,
        "requester": requester,
        "status": _str(r.get("status")),
        "amount": amount,
        "currency": currency,
        "settled_at": _time(r.get("settledAt")),
    }


_EXTRACTORS: dict[str, Callable[[Record], dict[str, Any]]] = {
    ids.COMPUTE_RECEIPT: _receipt,
    ids.COMPUTE_SETTLEMENT: _settlement,
    ids.COMPUTE_JOB: lambda r: {
        "model": _str(r.get("model")),
        "payment_authorization_uri": _ref_uri(r, "paymentAuthorization"),
        "created_at": _time(r.get("createdAt")),
        "expires_at": _time(r.get("expiresAt")),
    },
    ids.COMPUTE_PAYMENT_AUTHORIZATION: lambda r: {
        "exchange": _str(r.get("exchange")),
        "nonce": _str(r.get("nonce")),
        "expires_at": _time(r.get("expiresAt")),
    },
    ids.COMPUTE_ATTESTATION: lambda r: {
        "attested_at": _time(r.get("attestedAt")),
        "expires_at": _time(r.get("expiresAt")),
    },
    ids.COMPUTE_PROVIDER: lambda r: {
        "trust_level": _str(r.get("trustLevel")),
        "active": r.get("active") if isinstance(r.get("active"), bool) else None,
        "serving": r.get("serving") if isinstance(r.get("serving"), bool) else None,
        "created_at": _time(r.get("createdAt")),
    },
    ids.COMPUTE_DISPUTE: lambda r: {
        "settlement_uri": _ref_uri(r, "settlement"),
        "status": _str(r.get("status")),
    },
    ids.COMPUTE_EXCHANGE_POLICY: lambda r: {
        "active": r.get("active") if isinstance(r.get("active"), bool) else None
    },
    ids.COMPUTE_EXCHANGE_ATTESTATION: lambda r: {
        "policy_uri": _ref_uri(r, "policy"),
        "signing_key_fingerprint": _str(r.get("signingKeyFingerprint")),
    },
    ids.COMPUTE_TERMS_ACCEPTANCE: lambda r: {"exchange": _str(r.get("exchange"))},
    ids.ACCOUNT_TOKEN_GRANT: lambda r: {
        "recipient": _str(r.get("recipient")),
        "amount": _int(r.get("amount")),
    },
    ids.ACCOUNT_TOKEN_PATRONAGE: lambda r: {
        "recipient": _str(r.get("recipient")),
        "tokens_credited": _int(r.get("tokensCredited")),
    },
    ids.ACCOUNT_PROFILE: lambda r: {
        "display_name": _str(r.get("displayName")),
        "handle": _str(r.get("handle")),
        "avatar_url": _str(r.get("avatarUrl")),
    },
    ids.ACCOUNT_FRIEND: lambda r: {
        "subject": _str(r.get("subject")),
        "created_at": _time(r.get("createdAt")),
    },
}


def columns_for(collection: str, record: Record) -> dict[str, Any]:
    """The collection's extra columns for `record` (which has passed its lexicon)."""
    return _EXTRACTORS[collection](record)
