"""Commit proofs: the Merkle search tree look-ups, the checks of `prove_ops`, and signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import coincurve
import libipld
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.atproto import (
    AtprotoKey,
    OpClaim,
    SigningKey,
    Unproven,
    UnverifiedCommit,
    decode_frame,
    prove_ops,
)
from cocore.atproto._car import car_blocks
from cocore.atproto.commit import _Tree
from cocore.syntax import parse_did
from tests.fixtures.repo import (
    build_mst,
    cid_of,
    commit_block,
    commit_frame,
    public_key,
    repo_private_key,
    signer,
)

REPO = parse_did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
JOB = "dev.cocore.compute.job"
K256_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

rkeys = st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=13, max_size=13)


@settings(max_examples=60, deadline=None)
@given(st.sets(rkeys, max_size=120), st.sets(rkeys, max_size=20))
def test_the_tree_finds_every_key_it_holds_and_no_other(held: set[str], other: set[str]) -> None:
    records = {f"{JOB}/{k}": cid_of(k.encode()) for k in held}
    root, blocks = build_mst(records)
    tree = _Tree({cid_of(b): b for b in blocks})
    for path, cid in records.items():
        assert tree.get(root, path.encode()) == cid
    for k in other - held:
        assert tree.get(root, f"{JOB}/{k}".encode()) is None


def _frame_parts(raw: bytes) -> tuple[dict[str, Any], dict[bytes, bytes]]:
    _, body = libipld.decode_dag_cbor_multi(raw)
    return body, car_blocks(body["blocks"])


def _claims(body: dict[str, Any]) -> list[OpClaim]:
    return [OpClaim(o["path"], o["cid"]) for o in body["ops"]]


def _held(n: int) -> dict[str, bytes]:
    return {f"{JOB}/3aaaaaaaaa{i:03d}": cid_of(b"%d" % i) for i in range(n)}


def _prove(raw: bytes, claims: list[OpClaim] | None = None, **changes: Any) -> None:
    body, blocks = _frame_parts(raw)
    body.update(changes)
    prove_ops(blocks, body["commit"], parse_did(body["repo"]), body["rev"], claims or _claims(body))


def test_a_genuine_commit_proves_its_creates_updates_and_deletes() -> None:
    record = libipld.encode_dag_cbor({"$type": JOB, "n": 1})
    tree = {**_held(40), f"{JOB}/3zzzzzzzzzzzz": cid_of(record)}
    ops = [("create", f"{JOB}/3zzzzzzzzzzzz", record), ("delete", f"{JOB}/3yyyyyyyyyyyy", None)]
    body, blocks = _frame_parts(commit_frame(1, REPO, "3r", ops, tree))
    commit = prove_ops(blocks, body["commit"], REPO, "3r", _claims(body))
    assert (commit.did, commit.rev) == (REPO, "3r")
    assert commit.verify(public_key(repo_private_key(REPO)))
    assert not commit.verify(public_key(repo_private_key("did:plc:someoneelse")))


def test_a_path_touched_twice_in_one_commit_is_proven_by_its_last_op() -> None:
    first, second = (libipld.encode_dag_cbor({"$type": JOB, "n": n}) for n in (1, 2))
    a, b = f"{JOB}/3aaaaaaaaaaaa", f"{JOB}/3aaaaaaaaaaab"
    ops = [("create", a, first), ("create", b, first), ("update", b, second), ("delete", a, None)]
    body, blocks = _frame_parts(commit_frame(1, REPO, "3r", ops, {b: cid_of(second)}))
    prove_ops(blocks, body["commit"], REPO, "3r", _claims(body))
    reversed_ = [*_claims(body)[:-1], OpClaim(b, cid_of(first))]  # b's last op, not the tree's
    _unproven("op-not-proven", lambda: prove_ops(blocks, body["commit"], REPO, "3r", reversed_))


def _unproven(reason: str, check: Callable[[], object]) -> None:
    with pytest.raises(Unproven) as caught:
        check()
    assert caught.value.reason == reason


def test_ops_the_signed_tree_does_not_hold_are_refused() -> None:
    genuine = libipld.encode_dag_cbor({"$type": JOB, "n": 1})
    forged = libipld.encode_dag_cbor({"$type": JOB, "n": 2})
    path = f"{JOB}/3zzzzzzzzzzzz"
    tree = {**_held(30), path: cid_of(genuine)}
    raw = commit_frame(1, REPO, "3r", [("create", path, genuine)], tree)
    _unproven("op-not-proven", lambda: _prove(raw, [OpClaim(path, cid_of(forged))]))
    _unproven("op-not-proven", lambda: _prove(raw, [OpClaim(path, None)]))  # a forged delete
    absent = f"{JOB}/3xxxxxxxxxxxx"
    _unproven("op-not-proven", lambda: _prove(raw, [OpClaim(absent, cid_of(genuine))]))


def test_a_commit_that_is_not_the_repo_s_or_lacks_blocks_is_refused() -> None:
    raw = commit_frame(1, REPO, "3r", [], _held(30))
    body, blocks = _frame_parts(raw)
    commit_cid = body["commit"]
    other = parse_did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
    _unproven("commit-repo-mismatch", lambda: prove_ops(blocks, commit_cid, other, "3r", []))
    _unproven("commit-rev-mismatch", lambda: prove_ops(blocks, commit_cid, REPO, "3s", []))
    _unproven("commit-missing", lambda: prove_ops({}, commit_cid, REPO, "3r", []))
    _unproven("commit-malformed", lambda: prove_ops(blocks, "not a link", REPO, "3r", []))
    unsigned = libipld.encode_dag_cbor({"did": REPO, "rev": "3r", "version": 3})
    bare = {**blocks, cid_of(unsigned): unsigned}
    _unproven("commit-malformed", lambda: prove_ops(bare, cid_of(unsigned), REPO, "3r", []))
    swapped = {**blocks, commit_cid: unsigned}  # another block under the commit's CID
    _unproven("commit-hash-mismatch", lambda: prove_ops(swapped, commit_cid, REPO, "3r", []))


def test_a_missing_or_altered_tree_node_is_refused() -> None:
    path = f"{JOB}/3aaaaaaaaa007"
    raw = commit_frame(1, REPO, "3r", [], _held(60))
    body, blocks = _frame_parts(raw)
    commit = libipld.decode_dag_cbor(blocks[body["commit"]])
    root = commit["data"]
    without = {cid: b for cid, b in blocks.items() if cid != root}
    claim = [OpClaim(path, cid_of(b"7"))]
    _unproven("mst-missing", lambda: prove_ops(without, body["commit"], REPO, "3r", claim))
    altered = {**blocks, root: libipld.encode_dag_cbor({"l": None, "e": []})}
    _unproven("mst-hash-mismatch", lambda: prove_ops(altered, body["commit"], REPO, "3r", claim))
    junk = libipld.encode_dag_cbor({"l": None, "e": [{"p": "x"}]})
    signed = commit_block(REPO, "3r", cid_of(junk), signer(repo_private_key(REPO)))
    bad = {cid_of(signed): signed, cid_of(junk): junk}
    _unproven("mst-malformed", lambda: prove_ops(bad, cid_of(signed), REPO, "3r", claim))


def test_the_decoder_turns_an_unproven_commit_into_one_unverified_event() -> None:
    genuine = libipld.encode_dag_cbor({"$type": JOB, "n": 1})
    path = f"{JOB}/3zzzzzzzzzzzz"
    raw = commit_frame(4, REPO, "3r", [("create", path, genuine)], _held(10))  # not in the tree
    frame = decode_frame(raw, ("dev.cocore.",))
    assert frame.commit is None
    (event,) = frame.events
    assert isinstance(event, UnverifiedCommit)
    assert (event.seq, event.did, event.reason) == (4, REPO, "op-not-proven")


def test_k256_signatures_verify_only_low_s_under_the_right_key() -> None:
    private = coincurve.PrivateKey()
    key = AtprotoKey("ES256K", private.public_key.format(compressed=False))
    message = b"a commit"
    sig = signer(private)(message)
    assert key.verify(message, sig)
    assert not key.verify(b"another commit", sig)
    s = int.from_bytes(sig[32:], "big")
    high = sig[:32] + (K256_ORDER - s).to_bytes(32, "big")  # the same signature, high-S
    assert not key.verify(message, high)
    assert not key.verify(message, sig[:-1])
    assert not key.verify(message, b"\xff" * 64)  # r and s out of range
    other = AtprotoKey("ES256K", coincurve.PrivateKey().public_key.format(compressed=False))
    assert not other.verify(message, sig)


def test_p256_signatures_verify_only_low_s_under_the_right_key() -> None:
    private = SigningKey.generate("ES256")
    key = private.public
    sig = private.sign(b"a commit")
    assert key.verify(b"a commit", sig)
    assert not key.verify(b"another commit", sig)
    s = int.from_bytes(sig[32:], "big")
    assert not key.verify(b"a commit", sig[:32] + (P256_ORDER - s).to_bytes(32, "big"))
    assert not SigningKey.generate("ES256").public.verify(b"a commit", sig)
    assert not AtprotoKey("ES256", b"\x04" + b"\x01" * 64).verify(b"a commit", sig)  # no point
