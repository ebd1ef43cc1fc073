"""Who is on a stream: the DID's service-auth JWT, and a challenge signed by its attestation key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cocore.atproto import KeyResolver, ServiceAuthError, ServiceAuthVerifier
from cocore.crypto import PublicKey
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.rpc import service_name
from cocore.signing import challenge_response_signing_bytes

from ..errors import ChallengeFailed, RegisterAuthFailed

# The JWT's `lxm`: the gRPC method it authorises, "cocore.matchmaker.v1.ProviderLink.Connect".
CONNECT_LXM = f"{service_name(pb, 'ProviderLink')}.Connect"
MAX_SIGNATURE_BYTES = 80  # a DER P-256 signature is at most 72


class TokenVerifier(Protocol):
    async def verify(self, token: str, did: str) -> None: ...


class JwtTokenVerifier:
    """The token must be a valid service-auth JWT issued by `did` itself, for Connect."""

    def __init__(self, service_did: str, keys: KeyResolver) -> None:
        self._verifier = ServiceAuthVerifier(service_did, keys, max_lifetime_s=600)

    async def verify(self, token: str, did: str) -> None:
        try:
            claims = await self._verifier.verify(token, CONNECT_LXM)
        except ServiceAuthError as e:
            raise RegisterAuthFailed(
                f"service-auth token refused: {e.message}", details={"reason": e.code}
            ) from None
        if claims.iss != did or claims.service is not None:
            raise RegisterAuthFailed(
                "service-auth token was issued by another DID", code="register_did_mismatch"
            )


@dataclass(frozen=True, slots=True)
class Challenge:
    nonce: str
    timestamp: str
    sent_at: float  # loop time

    def frame(self) -> pb.MatchmakerFrame:
        return pb.MatchmakerFrame(
            challenge=pb.Challenge(nonce=self.nonce, timestamp=self.timestamp)
        )


def new_challenge(wall_clock: Callable[[], float], loop_time: float) -> Challenge:
    stamp = datetime.fromtimestamp(int(wall_clock()), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Challenge(secrets.token_hex(16), stamp, loop_time)


def check_response(challenge: Challenge, response: pb.ChallengeResponse, key: PublicKey) -> None:
    """The answer echoes this challenge and is signed by the registered attestation key."""
    if response.nonce != challenge.nonce or response.timestamp != challenge.timestamp:
        raise ChallengeFailed(
            "challenge response answers another challenge", code="challenge_replay"
        )
    if len(response.signature) > MAX_SIGNATURE_BYTES:
        raise ChallengeFailed("challenge signature is malformed", code="challenge_bad_signature")
    message = challenge_response_signing_bytes(
        response.nonce,
        response.timestamp,
        sip_enabled=response.sip_enabled if response.HasField("sip_enabled") else None,
        hypervisor_present=(
            response.hypervisor_present if response.HasField("hypervisor_present") else None
        ),
    )
    if not key.verify_der(response.signature, message):
        raise ChallengeFailed(
            "challenge signature does not match the attestation key", code="challenge_bad_signature"
        )
