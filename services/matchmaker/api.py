"""Gateway API messages ↔ pool values: pick filters in, candidates and provider rows out."""

from __future__ import annotations

import re

from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.syntax import InvalidSyntaxError, parse_did

from .errors import DispatchInvalid
from .pool import Pick, PickFilter, Pool, ProviderEntry, parse_version
from .pool.entry import TIER_RANK, TRUST_RANK

MAX_ALLOW_DIDS = 4096
MAX_EXCLUDE = 64
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def pick_filter(req: pb.PickRequest) -> PickFilter:
    """A checked filter; DispatchInvalid (InvalidInput) names the bad field."""
    if not req.model or len(req.model) > 256:
        raise DispatchInvalid("model is required (at most 256 characters)")
    _known(req.min_trust_level, TRUST_RANK, "min_trust_level")
    _known(req.tier, TIER_RANK, "tier")
    country = req.country.upper()
    if country and not _COUNTRY.match(country):
        raise DispatchInvalid("country must be an ISO 3166-1 alpha-2 code")
    floor = parse_version(req.min_version) if req.min_version else None
    if req.min_version and floor is None:
        raise DispatchInvalid("min_version must be a dotted version like 0.9.32")
    if req.pro_bono and not req.requester_did:
        raise DispatchInvalid("pro_bono needs requester_did")
    if len(req.exclude) > MAX_EXCLUDE:
        raise DispatchInvalid(f"at most {MAX_EXCLUDE} exclusions")
    friends = _dids(req.friends)
    return PickFilter(
        model=req.model,
        requester_did=_did(req.requester_did) if req.requester_did else "",
        min_trust_level=req.min_trust_level,
        tier=req.tier,
        accepted=_dids(req.accepted_providers),
        friends=friends if req.friends_only else None,
        country=country,
        min_version=floor,
        needs_tools=req.needs_tools,
        pro_bono=req.pro_bono,
        exclude=frozenset((_did(k.did), k.machine_id) for k in req.exclude),
        min_context_length=req.min_context_length,
    )


def candidate(pick: Pick, requester: str) -> pb.Candidate:
    e = pick.entry
    return pb.Candidate(
        did=e.did,
        machine_id=e.machine_id,
        encryption_pub_key=e.identity.encryption_pub_key,
        enc_scheme=e.identity.enc_scheme,
        attestation=_ref(e),
        lease=pick.lease,
        lease_expires_at_ms=round(pick.claims.expires_at * 1000),
        pro_bono=bool(requester) and e.pro_bono.applies_to(requester),
        binary_version=e.binary_version,
        trust_level=e.identity.trust_level,
        tier=e.identity.tier,
    )


def provider_info(e: ProviderEntry, pool: Pool, now: float) -> pb.ProviderInfo:
    cooldown = pool.ledger.cooldown(e.key, now)
    machine = pool.stats.get(e.key)
    info = pb.ProviderInfo(
        did=e.did, machine_id=e.machine_id, machine_label=e.label, replica_id=e.replica_id,
        models=[pb.ModelInfo(id=m.id, context_length=m.context_length, tools=m.tools)
                for m in e.models.values()],
        slots=e.slots, free_slots=e.free, country=e.country, binary_version=e.binary_version,
        trust_level=e.identity.trust_level, tier=e.identity.tier,
        enc_scheme=e.identity.enc_scheme, attestation=_ref(e),
        attested_age_ms=-1 if e.attested_at is None else round((now - e.attested_at) * 1000),
        cooldown_remaining_ms=round((cooldown.until - now) * 1000) if cooldown else 0,
        cooldown_reason=cooldown.reason if cooldown else "",
        reliability_milli=round((machine.reliability if machine else 1.0) * 1000),
        load=e.load, queued=e.queued, draining=e.draining, remote=e.remote,
    )  # fmt: skip
    if e.sip_enabled is not None:
        info.sip_enabled = e.sip_enabled
    for model, s in machine.models.items() if machine else ():
        info.stats.append(pb.ModelStats(
            model=model, ttft_ms=round(s.ttft_ms), tokens_per_s_milli=round(s.tokens_per_s * 1000),
            samples=s.ttft_samples,
        ))  # fmt: skip
    return info


def _ref(e: ProviderEntry) -> common_pb2.StrongRef:
    return common_pb2.StrongRef(uri=e.identity.attestation.uri, cid=e.identity.attestation.cid)


def _known(value: str, allowed: dict[str, int], field: str) -> None:
    if value and value not in allowed:
        raise DispatchInvalid(f"{field} must be one of {sorted(allowed)}")


def _dids(values: object) -> frozenset[str]:
    items = list(values)  # type: ignore[call-overload]
    if len(items) > MAX_ALLOW_DIDS:
        raise DispatchInvalid(f"at most {MAX_ALLOW_DIDS} DIDs in an allow-set")
    return frozenset(_did(v) for v in items)


def _did(value: str) -> str:
    try:
        return str(parse_did(value))
    except InvalidSyntaxError as e:
        raise DispatchInvalid(str(e)) from None
