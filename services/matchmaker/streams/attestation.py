"""Check the attestation record a machine names: in its repo, signed by its key, not expired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cocore.atproto import AtprotoClient, AtprotoError, IdentityResolver, XrpcNotFound
from cocore.crypto import SealScheme
from cocore.lexicon import default_registry, ids
from cocore.syntax import InvalidSyntaxError, parse_at_uri, parse_datetime, parse_did
from cocore.verify import check_attestation_signature

from ..errors import AttestationInvalid, AttestationUnreachable
from ..pool import StrongRef


@dataclass(frozen=True, slots=True)
class AttestationFacts:
    expires_at: float  # wall clock
    # Only what the matchmaker can prove: hardware evidence (MDA chains, App Attest) is not
    # verified here, so every machine routes as self-attested / best-effort.
    trust_level: str = "self-attested"
    tier: str = "best-effort"


@dataclass(frozen=True, slots=True)
class Claimed:
    did: str
    ref: StrongRef
    attestation_pub_key: str
    encryption_pub_key: str
    enc_scheme: SealScheme


class AttestationChecker(Protocol):
    async def check(self, claimed: Claimed) -> AttestationFacts: ...


class PdsAttestationChecker:
    """Fetches the record from the DID's PDS (any PDS the DID document names)."""

    def __init__(self, resolver: IdentityResolver, clock: Callable[[], float]) -> None:
        self._resolver = resolver
        self._clock = clock
        self._clients: dict[str, AtprotoClient] = {}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def check(self, claimed: Claimed) -> AttestationFacts:
        record = await self._fetch(claimed)
        return judge(record, claimed, self._clock())

    async def _fetch(self, claimed: Claimed) -> dict[str, Any]:
        uri = parse_at_uri(claimed.ref.uri)
        try:
            pds = await self._resolver.pds_endpoint(parse_did(claimed.did))
            if pds is None:
                raise AttestationInvalid("the DID document names no PDS", code="attestation_no_pds")
            client = self._clients.get(pds) or self._clients.setdefault(
                pds, AtprotoClient.anonymous(pds, transport=self._resolver.transport())
            )
            view = await client.get_record(uri.repo, uri.collection, uri.rkey)
        except XrpcNotFound:
            raise AttestationInvalid(
                "the attestation record does not exist", code="attestation_not_found"
            ) from None
        except AtprotoError as e:
            raise AttestationUnreachable(
                f"cannot fetch the attestation record ({e.code})"
            ) from None
        if str(view.cid) != claimed.ref.cid:
            raise AttestationInvalid(
                "the attestation record changed; register with its current CID",
                code="attestation_cid_mismatch",
            )
        return view.value


def judge(record: dict[str, Any], claimed: Claimed, now: float) -> AttestationFacts:
    """The checks on a fetched record, in the order a provider would fix them."""
    issues = default_registry().validate_record(ids.COMPUTE_ATTESTATION, record)
    if issues:
        raise _invalid(f"attestation record is invalid at {issues[0].path}", "attestation_lexicon")
    if record.get("publicKey") != claimed.attestation_pub_key:
        raise _invalid(
            "attestation publicKey is not the registered key", "attestation_key_mismatch"
        )
    if not check_attestation_signature(record).valid:
        raise _invalid("attestation selfSignature does not verify", "attestation_signature_invalid")
    if record.get("encryptionPubKey") != claimed.encryption_pub_key:
        raise _invalid("attestation encryptionPubKey is not the registered key", _KEY_MISMATCH)
    if record.get("encScheme", SealScheme.X25519.value) != claimed.enc_scheme.value:
        raise _invalid(
            "attestation encScheme is not the registered one", "attestation_key_mismatch"
        )
    try:
        expires = parse_datetime(record["expiresAt"]).value.timestamp()
        attested = parse_datetime(record["attestedAt"]).value.timestamp()
    except InvalidSyntaxError:
        raise _invalid("attestation times are malformed", "attestation_lexicon") from None
    if expires <= now:
        raise _invalid("the attestation has expired; publish a new one", "attestation_expired")
    if attested > now + 300:
        raise _invalid("the attestation is dated in the future", "attestation_not_yet_valid")
    return AttestationFacts(expires)


_KEY_MISMATCH = "attestation_key_mismatch"


def _invalid(message: str, code: str) -> AttestationInvalid:
    return AttestationInvalid(message, code=code)
