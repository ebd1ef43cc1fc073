"""The exchange policy: its terms, the `exchangePolicy` record they become, and back again."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cocore.canonical import canonicalize
from cocore.errors import InvalidInput
from cocore.lexicon import ids
from cocore.syntax import Did, parse_did

from .formulas import BPS, FeeRule
from .ledger_types import DEFAULT_CURRENCY, MAX_AMOUNT


class PolicyError(InvalidInput):
    default_code = "invalid_policy"


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """Every number of the policy. Defaults are cocore.dev's published terms."""

    fee_bps: int = 500
    fee_min_minor: int = 0
    currency: str = DEFAULT_CURRENCY
    # 1 CC per token each way: the reference provider catalogue's 1,000,000 CC per MTok.
    token_rate_in_per_mtok: int = 1_000_000
    token_rate_out_per_mtok: int = 1_000_000
    token_grant: int = 1_000_000
    token_floor: int = 100_000
    refresh_amount: int = 70_000  # 0 turns the weekly refresh off
    refresh_cadence_minutes: int = 10_080
    patronage_fraction_bps: int = 8_000  # 0 turns patronage off
    patronage_cadence_days: int = 30
    self_loop_fee_waived: bool = True
    self_loop_min_minor: int | None = None
    supported_currencies: tuple[str, ...] = (DEFAULT_CURRENCY,)
    treasury_did: Did | None = None  # None: the exchange's own DID
    terms_uri: str | None = None
    terms_version: str | None = None
    processor: str = "closed-loop"

    def __post_init__(self) -> None:
        _require(0 <= self.fee_bps <= BPS, "fee bps must be in 0..10000")
        _require(0 <= self.patronage_fraction_bps <= BPS, "patronage bps must be in 0..10000")
        amounts = (self.fee_min_minor, self.token_rate_in_per_mtok, self.token_rate_out_per_mtok,
                   self.token_grant, self.token_floor, self.refresh_amount,
                   self.self_loop_min_minor or 0)  # fmt: skip
        _require(all(0 <= a <= MAX_AMOUNT for a in amounts), "policy amounts must be ≥ 0")
        _require(self.refresh_cadence_minutes >= 60, "refresh cadence must be ≥ 60 minutes")
        _require(self.patronage_cadence_days >= 1, "patronage cadence must be ≥ 1 day")
        _require(self.currency in self.supported_currencies, "the fee currency must be supported")
        _require(
            2 <= len(self.currency.encode()) <= 8 and self.currency.isupper(),
            "a currency code is 2 to 8 upper-case characters (compute.defs#money with the CC "
            "erratum)",
        )
        _require(
            self.supported_currencies == (self.currency,),
            "the closed-loop ledger settles in exactly one currency, the fee currency",
        )
        _require(0 < len(self.supported_currencies) <= 32, "1 to 32 supported currencies")

    @property
    def fee_rule(self) -> FeeRule:
        return FeeRule(
            self.fee_bps, self.fee_min_minor, self.self_loop_fee_waived,
            self.self_loop_min_minor or 0,
        )  # fmt: skip

    def treasury(self, exchange: Did) -> Did:
        return self.treasury_did or exchange

    def body(self, exchange: Did) -> dict[str, Any]:
        """The record without `createdAt` and `active`: what a policy version *is*."""
        record: dict[str, Any] = {
            "$type": ids.COMPUTE_EXCHANGE_POLICY,
            "exchange": exchange,
            "fee": {"bps": self.fee_bps, "minMinor": self.fee_min_minor,
                    "currency": self.currency},
            "tokenRate": {"inputPricePerMTok": self.token_rate_in_per_mtok,
                          "outputPricePerMTok": self.token_rate_out_per_mtok,
                          "currency": self.currency},
            "supportedCurrencies": list(self.supported_currencies),
            "selfLoop": {"feeWaived": self.self_loop_fee_waived},
            "processor": self.processor,
            "tokenGrant": self.token_grant,
            "tokenFloor": self.token_floor,
            "treasuryDid": self.treasury(exchange),
        }  # fmt: skip
        if self.self_loop_min_minor is not None:
            record["selfLoop"]["minMinor"] = self.self_loop_min_minor
        if self.refresh_amount > 0:
            record["weeklyRefresh"] = {"amountPerDid": self.refresh_amount,
                                       "cadenceMinutes": self.refresh_cadence_minutes}  # fmt: skip
        if self.patronage_fraction_bps > 0:
            record["patronageDistribution"] = {
                "fractionBps": self.patronage_fraction_bps,
                "cadenceDays": self.patronage_cadence_days,
            }
        if self.terms_uri is not None:
            record["termsUri"] = self.terms_uri
        if self.terms_version is not None:
            record["termsVersion"] = self.terms_version
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PolicyTerms:
        """The terms a published policy record states (for settlements pinned to it)."""
        fee, rate, loop = record["fee"], record["tokenRate"], record["selfLoop"]
        refresh = record.get("weeklyRefresh") or {"amountPerDid": 0, "cadenceMinutes": 10_080}
        patronage = record.get("patronageDistribution") or {"fractionBps": 0, "cadenceDays": 30}
        return cls(
            fee_bps=fee["bps"], fee_min_minor=fee["minMinor"], currency=fee["currency"],
            token_rate_in_per_mtok=rate["inputPricePerMTok"],
            token_rate_out_per_mtok=rate["outputPricePerMTok"],
            token_grant=record.get("tokenGrant", 0), token_floor=record.get("tokenFloor", 0),
            refresh_amount=refresh["amountPerDid"],
            refresh_cadence_minutes=refresh["cadenceMinutes"],
            patronage_fraction_bps=patronage["fractionBps"],
            patronage_cadence_days=patronage["cadenceDays"],
            self_loop_fee_waived=loop["feeWaived"], self_loop_min_minor=loop.get("minMinor"),
            supported_currencies=tuple(record["supportedCurrencies"]),
            treasury_did=parse_did(record["treasuryDid"]) if "treasuryDid" in record else None,
            terms_uri=record.get("termsUri"), terms_version=record.get("termsVersion"),
            processor=record.get("processor", "closed-loop"),
        )  # fmt: skip


def content_hash(body: Mapping[str, Any]) -> str:
    """Identifies a version by content, so an unchanged configuration publishes nothing."""
    return hashlib.sha256(canonicalize(dict(body))).hexdigest()


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise PolicyError(message)
