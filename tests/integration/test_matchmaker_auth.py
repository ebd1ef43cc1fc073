"""Forged or broken registrations are refused with clear codes; nothing crashes or leaks."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc
import pytest

from cocore.atproto import get_service_auth
from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey
from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import error_from_rpc
from cocore.signing import challenge_response_signing_bytes
from cocore.syntax import parse_nsid
from services.matchmaker.server import MatchmakerService
from services.provider.link import CONNECT_LXM
from tests.fixtures.atproto import Account, AtprotoStack

from .matchmaker_kit import (
    SERVICE_DID,
    Requester,
    make_machine,
    publish_attestation,
)

pytestmark = pytest.mark.pds
LXM = parse_nsid(CONNECT_LXM)


@pytest.fixture(scope="module")
async def alice(atproto_stack: AtprotoStack) -> Account:
    return await atproto_stack.create_account()


@dataclass
class Forger:
    """Speaks the stream by hand so each field can be wrong on purpose."""

    address: str
    key: SigningKey
    keypair: EncryptionKeyPair
    attestation: common_pb2.StrongRef
    did: str

    def register(self, token: str, **overrides: object) -> pb.Register:
        fields: dict[str, object] = dict(
            did=self.did, machine_id="m1", auth_jwt=token,
            attestation_pub_key=self.key.public_key.to_cocore_b64(), attestation=self.attestation,
            encryption_pub_key=self.keypair.public_key_b64, enc_scheme="x25519",
            models=[pb.ModelInfo(id="tiny-echo")], slots=1, stream_resume_version=1,
        )  # fmt: skip
        fields.update(overrides)
        return pb.Register(**fields)  # type: ignore[arg-type]

    async def attempt(
        self,
        register: pb.Register,
        *,
        signer: SigningKey | None = None,
        frames: int = 0,
        silent: bool = False,
    ) -> tuple[grpc.StatusCode, str]:
        """Register, answer the challenge (signed by `signer`); returns the stream's final status.

        After registering it sends `frames` more register frames (a protocol violation), or
        ends its side cleanly when `frames` is 0.
        """
        async with grpc.aio.insecure_channel(self.address) as channel:
            call = pb_grpc.ProviderLinkStub(channel).Connect()
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await call.write(pb.ProviderFrame(register=register))
                frame = await call.read()
                if frame is not grpc.aio.EOF and frame.WhichOneof("frame") == "challenge":
                    await call.write(self._answer(frame.challenge, signer or self.key))
                    registered = await call.read()
                    assert registered is not grpc.aio.EOF
                    for _ in range(frames):
                        await call.write(pb.ProviderFrame(register=register))
                    if not frames and not silent:  # silent: never answer a ping again
                        await call.done_writing()
            return await asyncio.wait_for(_final_status(call), 10)

    @staticmethod
    def _answer(c: pb.Challenge, signer: SigningKey) -> pb.ProviderFrame:
        sig = signer.sign_der(challenge_response_signing_bytes(c.nonce, c.timestamp))
        answer = pb.ChallengeResponse(nonce=c.nonce, timestamp=c.timestamp, signature=sig)
        return pb.ProviderFrame(challenge_response=answer)


class _Finished:
    def __init__(self, code: grpc.StatusCode, details: str | None, trailing: object) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> object:
        return self._trailing


async def _final_status(call: grpc.aio.StreamStreamCall) -> tuple[grpc.StatusCode, str]:
    with contextlib.suppress(grpc.aio.AioRpcError):
        while await call.read() is not grpc.aio.EOF:
            pass  # pings and the like
    code = await call.code()
    if code == grpc.StatusCode.OK:
        return Outcome(code, "ok", "")
    details = await call.details()
    finished = _Finished(code, details, await call.trailing_metadata())
    return Outcome(code, error_from_rpc(finished).code, details or "")


class Outcome(tuple[grpc.StatusCode, str]):
    """(status code, reason); shows the status details when an assertion fails."""

    details: str

    def __new__(cls, code: grpc.StatusCode, reason: str, details: str) -> Outcome:
        outcome = super().__new__(cls, (code, reason))
        outcome.details = details
        return outcome

    def __repr__(self) -> str:
        return f"Outcome({self[0]}, {self[1]!r}, details={self.details!r})"


@pytest.fixture
async def forger(matchmaker: MatchmakerService, alice: Account) -> Forger:
    key, keypair = SigningKey.generate(), EncryptionKeyPair.generate(SealScheme.X25519)
    ref = await publish_attestation(alice.client, key, keypair)
    return Forger(
        matchmaker.address, key, keypair, common_pb2.StrongRef(uri=ref.uri, cid=ref.cid),
        str(alice.client.did),
    )  # fmt: skip


async def token(account: Account, aud: str = SERVICE_DID) -> str:
    return await get_service_auth(account.client, aud, LXM)


async def test_a_genuine_registration_is_accepted(forger: Forger, alice: Account) -> None:
    code, _ = await forger.attempt(forger.register(await token(alice)))
    assert code == grpc.StatusCode.OK  # it registered, then closed its side cleanly


async def test_a_token_for_another_did_is_refused(
    atproto_stack: AtprotoStack, forger: Forger, matchmaker: MatchmakerService
) -> None:
    mallory = await atproto_stack.create_account()
    code, reason = await forger.attempt(forger.register(await token(mallory)))
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "register_did_mismatch")
    assert len(matchmaker.hub.pool) == 0


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"auth_jwt": ""}, grpc.StatusCode.INVALID_ARGUMENT, "register_invalid"),
        ({"auth_jwt": "not.a.jwt"}, grpc.StatusCode.UNAUTHENTICATED, "register_auth_failed"),
        (
            {"stream_resume_version": 0},
            grpc.StatusCode.INVALID_ARGUMENT,
            "unsupported_resume_version",
        ),
        ({"slots": 0}, grpc.StatusCode.INVALID_ARGUMENT, "register_invalid"),
        ({"enc_scheme": "rot13"}, grpc.StatusCode.INVALID_ARGUMENT, "register_invalid"),
        ({"did": "not-a-did"}, grpc.StatusCode.INVALID_ARGUMENT, "register_invalid"),
    ],
)
async def test_malformed_registrations_are_refused(
    forger: Forger,
    alice: Account,
    overrides: dict[str, object],
    status: grpc.StatusCode,
    reason: str,
) -> None:
    assert await forger.attempt(forger.register(await token(alice), **overrides)) == (
        status,
        reason,
    )


async def test_a_token_for_another_service_is_refused(forger: Forger, alice: Account) -> None:
    wrong_aud = await token(alice, aud="did:web:someone.else.test")
    assert await forger.attempt(forger.register(wrong_aud)) == (
        grpc.StatusCode.UNAUTHENTICATED, "register_auth_failed",
    )  # fmt: skip


async def test_a_bad_challenge_signature_is_refused(forger: Forger, alice: Account) -> None:
    impostor = SigningKey.generate()
    assert await forger.attempt(forger.register(await token(alice)), signer=impostor) == (
        grpc.StatusCode.UNAUTHENTICATED, "challenge_bad_signature",
    )  # fmt: skip


async def test_attestation_must_match_the_registered_keys(forger: Forger, alice: Account) -> None:
    other = SigningKey.generate()
    register = forger.register(
        await token(alice), attestation_pub_key=other.public_key.to_cocore_b64()
    )
    assert await forger.attempt(register, signer=other) == (
        grpc.StatusCode.PERMISSION_DENIED, "attestation_key_mismatch",
    )  # fmt: skip
    stranger_key = EncryptionKeyPair.generate(SealScheme.X25519).public_key_b64
    register = forger.register(await token(alice), encryption_pub_key=stranger_key)
    result = await forger.attempt(register)
    assert result[1] == "attestation_key_mismatch", result


async def test_expired_missing_or_foreign_attestations_are_refused(
    atproto_stack: AtprotoStack, forger: Forger, alice: Account
) -> None:
    expired = await publish_attestation(alice.client, forger.key, forger.keypair, hours=-1)
    ref = common_pb2.StrongRef(uri=expired.uri, cid=expired.cid)
    result = await forger.attempt(forger.register(await token(alice), attestation=ref))
    assert result[1] == "attestation_expired", result
    missing = common_pb2.StrongRef(uri=forger.attestation.uri[:-3] + "zzz", cid=expired.cid)
    result = await forger.attempt(forger.register(await token(alice), attestation=missing))
    assert result[1] == "attestation_not_found", result
    bob = await atproto_stack.create_account()  # a record in someone else's repo
    theirs = await publish_attestation(bob.client, forger.key, forger.keypair)
    foreign = common_pb2.StrongRef(uri=theirs.uri, cid=theirs.cid)
    result = await forger.attempt(forger.register(await token(alice), attestation=foreign))
    assert result[1] == "register_invalid", result


async def test_register_twice_on_one_stream_is_a_protocol_violation(
    forger: Forger, alice: Account, matchmaker: MatchmakerService
) -> None:
    result = await forger.attempt(forger.register(await token(alice)), frames=1)
    assert result == (grpc.StatusCode.INVALID_ARGUMENT, "duplicate_register")
    assert len(matchmaker.hub.pool) == 0  # the stream's entry left with it


async def test_oversized_frames_end_only_that_stream(
    atproto_stack: AtprotoStack, forger: Forger, alice: Account, matchmaker: MatchmakerService
) -> None:
    honest = await make_machine(atproto_stack, matchmaker.address)
    honest.start()
    await honest.wait_registered()
    try:
        huge = forger.register(await token(alice), machine_label="x" * (5 * 1024 * 1024))
        code, _ = await forger.attempt(huge)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        requester = Requester(matchmaker.address)
        try:
            assert (await requester.run("still serving")).content == "echo: still serving"
        finally:
            await requester.aclose()
    finally:
        await honest.stop()


async def test_a_provider_that_stops_answering_is_dropped(
    forger: Forger, alice: Account, matchmaker: MatchmakerService
) -> None:
    result = await forger.attempt(forger.register(await token(alice)), silent=True)
    assert result == (grpc.StatusCode.DEADLINE_EXCEEDED, "heartbeat_timeout")
    assert len(matchmaker.hub.pool) == 0 and not matchmaker.hub.connections
