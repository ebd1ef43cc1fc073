"""What a job requires of a machine, as ordered checks: fast to apply, and able to say why not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .entry import TIER_RANK, TRUST_RANK, ProviderEntry, ProviderKey
from .versions import Version, meets


@dataclass(frozen=True, slots=True)
class PickFilter:
    model: str
    requester_did: str = ""
    min_trust_level: str = ""
    tier: str = ""
    accepted: frozenset[str] = frozenset()  # empty = any DID
    friends: frozenset[str] | None = None  # None = not friends-only
    country: str = ""
    min_version: Version | None = None
    needs_tools: bool = False
    pro_bono: bool = False
    exclude: frozenset[ProviderKey] = frozenset()  # machine "" = every machine of the DID
    min_context_length: int = 0

    def allow_set(self) -> frozenset[str] | None:
        """The DIDs the job may go to, when something restricts them (intersected)."""
        if self.friends is None:
            return self.accepted or None
        return self.friends & self.accepted if self.accepted else self.friends


# (refusal code, check) in the order a refusal is explained; the model check comes first.
Check = Callable[[ProviderEntry], bool]


def static_checks(f: PickFilter) -> list[tuple[str, Check]]:
    """The checks that depend only on the filter and the machine (not on time or slots)."""
    checks: list[tuple[str, Check]] = [("no_providers_for_model", lambda e: f.model in e.models)]
    if f.accepted:
        checks.append(("no_accepted_providers", lambda e: e.did in f.accepted))
    if f.friends is not None:
        friends = f.friends
        checks.append(("no_friends_for_model", lambda e: e.did in friends))
    if f.exclude:
        checks.append(("no_providers_left", lambda e: not _excluded(f.exclude, e)))
    if f.country:
        checks.append(("no_providers_for_country", lambda e: e.country == f.country))
    if f.min_trust_level:
        floor = TRUST_RANK.get(f.min_trust_level, 99)
        checks.append(
            (
                "no_providers_for_trust_level",
                lambda e: TRUST_RANK.get(e.identity.trust_level, 0) >= floor,
            )
        )
    if f.tier:
        tier = TIER_RANK.get(f.tier, 99)
        checks.append(
            ("no_providers_for_tier", lambda e: TIER_RANK.get(e.identity.tier, 0) >= tier)
        )
    if f.min_version is not None:
        checks.append(("no_providers_for_version", lambda e: meets(e.version, f.min_version)))
    if f.needs_tools:
        checks.append(("no_providers_for_tool_calls", lambda e: e.models[f.model].tools))
    if f.min_context_length:
        need = f.min_context_length
        checks.append(
            ("no_providers_for_context_length", lambda e: e.models[f.model].context_length >= need)
        )
    if f.pro_bono:
        checks.append(("no_pro_bono_providers", lambda e: e.pro_bono.applies_to(f.requester_did)))
    return checks


def predicate(f: PickFilter) -> Check:
    """All of `static_checks(f)` as one function: a pick calls it for every candidate."""
    model, accepted, friends, exclude, country = (
        f.model, f.accepted, f.friends, f.exclude, f.country
    )  # fmt: skip
    trust = TRUST_RANK.get(f.min_trust_level, 99) if f.min_trust_level else 0
    tier = TIER_RANK.get(f.tier, 99) if f.tier else 0
    floor, tools, context = f.min_version, f.needs_tools, f.min_context_length
    requester, pro_bono = f.requester_did, f.pro_bono

    def passes(e: ProviderEntry) -> bool:
        info = e.models.get(model)
        return not (
            info is None
            or (accepted and e.did not in accepted)
            or (friends is not None and e.did not in friends)
            or (exclude and _excluded(exclude, e))
            or (country and e.country != country)
            or (trust and _trust(e) < trust)
            or (tier and _tier(e) < tier)
            or (floor is not None and not meets(e.version, floor))
            or (tools and not info.tools)
            or (context and info.context_length < context)
            or (pro_bono and not e.pro_bono.applies_to(requester))
        )

    return passes


def _trust(e: ProviderEntry) -> int:
    return TRUST_RANK.get(e.identity.trust_level, 0)


def _tier(e: ProviderEntry) -> int:
    return TIER_RANK.get(e.identity.tier, 0)


def _excluded(exclude: frozenset[ProviderKey], e: ProviderEntry) -> bool:
    return (e.did, e.machine_id) in exclude or (e.did, "") in exclude
