"""Firehose commit signatures checked against DID documents in the real PLC directory,
including a repo whose signing key rotates."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from typing import Any

import coincurve
import libipld
import pytest

from cocore.atproto import (
    Batch,
    CommitSignatures,
    IdentityEvent,
    IdentityResolver,
    SigningKey,
    UnverifiedCommit,
    decode_frame,
)
from cocore.atproto.plc import PlcClient, sign_operation, update_operation
from cocore.syntax import Did, dag_cbor, parse_did
from tests.fixtures.atproto import AtprotoStack
from tests.fixtures.repo import cid_of, commit_frame, public_key, signer

pytestmark = pytest.mark.pds

JOB = "dev.cocore.compute.job"
T = "2026-11-22T00:00:00.000Z"


async def register(
    plc: PlcClient, rotation: SigningKey, key: coincurve.PrivateKey, pds: str | None = None
) -> Any:
    """A new did:plc whose `#atproto` key is `key`: (the DID, its genesis operation)."""
    services = {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": pds}}
    genesis = sign_operation({
        "type": "plc_operation", "rotationKeys": [rotation.public.did_key],
        "verificationMethods": {"atproto": public_key(key).did_key}, "alsoKnownAs": [],
        "services": services if pds else {}, "prev": None,
    }, rotation)  # fmt: skip
    digest = hashlib.sha256(dag_cbor(genesis)).digest()
    did = parse_did("did:plc:" + base64.b32encode(digest).decode().lower()[:24])
    await plc.submit(did, genesis)
    return did, genesis


def batch(seq: int, did: Did, key: coincurve.PrivateKey) -> Batch:
    record = libipld.encode_dag_cbor({"$type": JOB, "n": seq})
    path = f"{JOB}/3aaaaaaaaa{seq:03d}"
    raw = commit_frame(seq, did, f"3r{seq}", [("create", path, record)], {path: cid_of(record)},
                       sign=signer(key))  # fmt: skip
    frame = decode_frame(raw, ("dev.cocore.",))
    assert frame.commit is not None
    return Batch(frame.seq, frame.events, frame.commit)


def reasons(items: list[Batch]) -> list[str | None]:
    return [e.reason if isinstance(e := b.events[0], UnverifiedCommit) else None for b in items]


async def test_commits_verify_under_the_repo_s_current_key_only(
    atproto_stack: AtprotoStack,
) -> None:
    rotation, key = SigningKey.generate("ES256K"), coincurve.PrivateKey()
    async with (
        contextlib.aclosing(PlcClient(atproto_stack.plc_url)) as plc,
        IdentityResolver(atproto_stack.plc_url, allow_insecure_loopback=True) as resolver,
    ):
        did, genesis = await register(plc, rotation, key)
        unregistered = parse_did("did:plc:" + "a" * 24)
        signatures = CommitSignatures(resolver)
        good = batch(1, did, key)
        checked = await signatures.check([good, batch(2, did, coincurve.PrivateKey()),
                                          batch(3, unregistered, key)])  # fmt: skip
        assert checked[0] is good
        assert reasons(checked) == [None, "bad-signature", "signing-key-unavailable"]

        new_key = coincurve.PrivateKey()
        rotated = update_operation(
            genesis, verificationMethods={"atproto": public_key(new_key).did_key}
        )
        await plc.submit(did, sign_operation(rotated, rotation))
        # Without the repo's #identity event, a key fetched moments ago is not fetched again.
        assert reasons(await signatures.check([batch(4, did, new_key)])) == ["bad-signature"]
        identity = Batch(5, (IdentityEvent(5, did, None, T),))
        after = await signatures.check([identity, batch(6, did, new_key), batch(7, did, key)])
        assert reasons(after) == [None, None, "bad-signature"]  # the old key no longer signs

        # Past the refresh interval, a failing signature fetches the document again by itself.
        eager = CommitSignatures(resolver, refresh_interval_s=0)
        assert reasons(await eager.check([batch(8, did, new_key)])) == [None]


async def test_read_from_its_own_pds_a_repo_needs_no_signature_check(
    atproto_stack: AtprotoStack,
) -> None:
    key, forger = coincurve.PrivateKey(), coincurve.PrivateKey()
    async with (
        contextlib.aclosing(PlcClient(atproto_stack.plc_url)) as plc,
        IdentityResolver(atproto_stack.plc_url, allow_insecure_loopback=True) as resolver,
    ):
        did, _ = await register(plc, SigningKey.generate("ES256K"), key, "https://pds.example")
        # The host signs whatever it likes for the repos it hosts: only it is asked.
        its_host = CommitSignatures(resolver, host="https://PDS.example:443/")
        assert reasons(await its_host.check([batch(1, did, forger)])) == [None]
        another = CommitSignatures(resolver, host="https://other.example")
        assert reasons(await another.check([batch(2, did, forger)])) == ["bad-signature"]
        assert reasons(await another.check([batch(3, did, key)])) == [None]
