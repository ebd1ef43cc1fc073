"""Parse a provider's Register / ProviderUpdated frames into checked values (bad input refused)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cocore.crypto import CryptoError, PublicKey, SealScheme, b64decode_strict, parse_seal_scheme
from cocore.lexicon import ids
from cocore.syntax import InvalidSyntaxError, parse_at_uri, parse_cid, parse_did, parse_record_key

from ..errors import RegisterInvalid
from ..pool import ModelInfo, ProBono, StrongRef, parse_version
from ..pool.versions import Version

STREAM_RESUME_VERSION = 1
MAX_MODELS = 256
MAX_SLOTS = 256
MAX_PRO_BONO_DIDS = 1024
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """What a machine may change while connected (ProviderUpdated)."""

    models: dict[str, ModelInfo]
    slots: int
    country: str
    pro_bono: ProBono


@dataclass(frozen=True, slots=True)
class Registration:
    did: str
    machine_id: str
    auth_jwt: str
    attestation_key: PublicKey
    attestation_pub_key: str
    attestation: StrongRef
    encryption_pub_key: str
    enc_scheme: SealScheme
    facts: LiveFacts
    binary_version: str
    version: Version | None
    label: str


def parse_register(frame: Any) -> Registration:
    """A Register frame → Registration; RegisterInvalid names the first bad field."""
    did = _did(frame.did, "did")
    if frame.stream_resume_version != STREAM_RESUME_VERSION:
        raise RegisterInvalid(
            f"stream_resume_version must be {STREAM_RESUME_VERSION}",
            code="unsupported_resume_version",
        )
    scheme = _scheme(frame.enc_scheme)
    return Registration(
        did=did,
        machine_id=_rkey(frame.machine_id, "machine_id"),
        auth_jwt=_text(frame.auth_jwt, "auth_jwt", 8192, required=True),
        attestation_key=_signing_key(frame.attestation_pub_key),
        attestation_pub_key=frame.attestation_pub_key,
        attestation=_attestation_ref(frame.attestation, did),
        encryption_pub_key=_encryption_key(frame.encryption_pub_key, scheme),
        enc_scheme=scheme,
        facts=parse_facts(frame.models, frame.slots, frame.country, frame.pro_bono),
        binary_version=_text(frame.binary_version, "binary_version", 64),
        version=parse_version(frame.binary_version),
        label=_text(frame.machine_label, "machine_label", 128),
    )


def parse_facts(models: Iterable[Any], slots: int, country: str, pro_bono: Any) -> LiveFacts:
    if not 1 <= slots <= MAX_SLOTS:
        raise RegisterInvalid(f"slots must be 1..{MAX_SLOTS}")
    if country and not _COUNTRY.match(country):
        raise RegisterInvalid("country must be an ISO 3166-1 alpha-2 code (upper case)")
    return LiveFacts(_models(models), slots, country, _pro_bono(pro_bono))


def parse_strong_ref(ref: Any, did: str) -> StrongRef:
    return _attestation_ref(ref, did)


def _models(models: Iterable[Any]) -> dict[str, ModelInfo]:
    found: dict[str, ModelInfo] = {}
    for model in models:
        name = _text(model.id, "models.id", 256, required=True)
        if name in found:
            raise RegisterInvalid(f"model {name[:60]!r} is listed twice")
        found[name] = ModelInfo(name, model.context_length, model.tools)
        if len(found) > MAX_MODELS:
            raise RegisterInvalid(f"at most {MAX_MODELS} models")
    return found


def _pro_bono(policy: Any) -> ProBono:
    if len(policy.dids) > MAX_PRO_BONO_DIDS:
        raise RegisterInvalid(f"pro_bono.dids holds at most {MAX_PRO_BONO_DIDS} DIDs")
    dids = frozenset(_did(d, "pro_bono.dids") for d in policy.dids)
    return ProBono(_text(policy.mode, "pro_bono.mode", 32), dids)


def _attestation_ref(ref: Any, did: str) -> StrongRef:
    try:
        uri = parse_at_uri(ref.uri)
        cid = parse_cid(ref.cid)
    except InvalidSyntaxError as e:
        raise RegisterInvalid(f"attestation strongRef: {e}") from None
    if uri.repo != did or uri.collection != ids.COMPUTE_ATTESTATION:
        raise RegisterInvalid("attestation must be a compute.attestation record in the DID's repo")
    return StrongRef(str(uri), str(cid))


def _signing_key(text: str) -> PublicKey:
    try:
        return PublicKey.from_cocore_b64(text)
    except CryptoError as e:
        raise RegisterInvalid(f"attestation_pub_key: {e}") from None


def _scheme(value: str) -> SealScheme:
    try:
        return parse_seal_scheme(value or None)
    except CryptoError as e:
        raise RegisterInvalid(str(e)) from None


def _encryption_key(text: str, scheme: SealScheme) -> str:
    size = 32 if scheme is SealScheme.X25519 else 64
    try:
        raw = b64decode_strict(text)
    except CryptoError as e:
        raise RegisterInvalid(f"encryption_pub_key: {e}") from None
    if len(raw) != size:
        raise RegisterInvalid(f"encryption_pub_key must be {size} bytes for {scheme.value}")
    if scheme is SealScheme.P256_ECIES_SE:
        _signing_key(text)  # on the curve
    return text


def _did(value: str, field: str) -> str:
    try:
        return str(parse_did(value))
    except InvalidSyntaxError as e:
        raise RegisterInvalid(f"{field}: {e}") from None


def _rkey(value: str, field: str) -> str:
    try:
        return str(parse_record_key(value))
    except InvalidSyntaxError as e:
        raise RegisterInvalid(f"{field}: {e}") from None


def _text(value: str, field: str, limit: int, *, required: bool = False) -> str:
    if required and not value:
        raise RegisterInvalid(f"{field} is required")
    if len(value) > limit:
        raise RegisterInvalid(f"{field} is longer than {limit} characters")
    return value
