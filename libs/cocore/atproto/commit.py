"""What a `#commit` proves: its signed commit block, and its ops against the commit's MST.

A repo commit signs the root of the repo's Merkle search tree (`data`), not the op list, so a
relay could attach any op to a genuine commit. Since sync 1.1 every `#commit` carries the
tree nodes on each op's path, and `prove_ops` checks each one: a created or updated record
sits under its path with the op's CID, a deleted one is absent. The signature itself needs
the repo's key (from its DID document): `SignedCommit.verify` takes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import libipld

from cocore.syntax import Did

from .keys import AtprotoKey

COMMIT_VERSIONS = (2, 3)
DAG_CBOR_SHA256 = b"\x01\x71\x12\x20"  # CIDv1, dag-cbor, sha2-256, 32 bytes
MAX_TREE_DEPTH = 128  # a 2-bit fanout over SHA-256 keys cannot go deeper


class Unproven(Exception):
    """The commit does not prove its ops; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class SignedCommit:
    """A commit block: its repo, rev, and the bytes its signature covers."""

    did: Did
    rev: str
    unsigned: bytes  # the commit's DAG-CBOR without `sig`
    sig: bytes

    def verify(self, key: AtprotoKey) -> bool:
        return key.verify(self.unsigned, self.sig)


@dataclass(frozen=True, slots=True)
class OpClaim:
    """What one op says about the tree: `path` now holds `cid` (None: nothing, a delete)."""

    path: str
    cid: bytes | None


def prove_ops(
    blocks: Mapping[bytes, bytes], commit_cid: Any, repo: Did, rev: str, ops: Iterable[OpClaim]
) -> SignedCommit:
    """The commit block `commit_cid`, once every op is proven against its tree; `Unproven`
    otherwise (the commit names another repo or rev, a block is missing or does not hash to
    its CID, or the tree disagrees with an op)."""
    if not isinstance(commit_cid, bytes):
        raise Unproven("commit-malformed", "the commit field is not a CID link")
    commit = _node(blocks, commit_cid, "commit")
    sig, did, data = commit.get("sig"), commit.get("did"), commit.get("data")
    if (
        not isinstance(sig, bytes) or not isinstance(did, str) or not isinstance(data, bytes)
        or commit.get("version") not in COMMIT_VERSIONS or not isinstance(commit.get("rev"), str)
    ):  # fmt: skip
        raise Unproven("commit-malformed", "the commit block lacks did, version, data, rev or sig")
    if did != repo:
        raise Unproven("commit-repo-mismatch", f"the commit is {did}'s, the frame says {repo}")
    if commit["rev"] != rev:
        raise Unproven("commit-rev-mismatch", f"the commit is rev {commit['rev']}, not {rev}")
    tree = _Tree(blocks)
    # One commit may touch a path twice (create, then delete): its last op is what the tree
    # holds, and the earlier ones are undone within the commit.
    final = {op.path: op.cid for op in ops}
    for path, cid in final.items():
        held = tree.get(data, path.encode())
        if held != cid:
            what = "holds no record" if held is None else "holds another record"
            if cid is None:
                raise Unproven("op-not-proven", f"{path} was deleted, yet the tree holds it")
            raise Unproven("op-not-proven", f"{path}: the signed tree {what} there")
    del commit["sig"]
    return SignedCommit(repo, rev, libipld.encode_dag_cbor(commit), sig)


def _node(blocks: Mapping[bytes, bytes], cid: Any, what: str) -> dict[str, Any]:
    if not isinstance(cid, bytes) or len(cid) != 36 or cid[:4] != DAG_CBOR_SHA256:
        raise Unproven(f"{what}-malformed", f"a {what} link is not a DAG-CBOR sha2-256 CID")
    block = blocks.get(cid)
    if block is None:
        raise Unproven(f"{what}-missing", f"the frame lacks the {what} block it needs")
    if hashlib.sha256(block).digest() != cid[4:]:
        raise Unproven(f"{what}-hash-mismatch", f"a {what} block does not hash to its CID")
    try:
        node = libipld.decode_dag_cbor(block)
    except ValueError as e:
        raise Unproven(f"{what}-malformed", f"a {what} block is not DAG-CBOR") from e
    if not isinstance(node, dict):
        raise Unproven(f"{what}-malformed", f"a {what} block is not a map")
    return node


class _Tree:
    """Look-ups in a Merkle search tree, each node decoded (and hash-checked) once.

    Only the path to each key is read. Entry order within a node is not checked: only the
    repo's key can sign a tree, and a repo's owner can write or delete any record anyway.
    """

    def __init__(self, blocks: Mapping[bytes, bytes]) -> None:
        self._blocks = blocks
        self._nodes: dict[bytes, dict[str, Any]] = {}

    def get(self, root: bytes, key: bytes) -> bytes | None:
        """The value CID under `key`, or None when the tree does not hold it."""
        link: Any = root
        try:
            for _ in range(MAX_TREE_DEPTH):
                if link is None:
                    return None
                node = self._nodes.get(link) or self._node(link)
                link, previous = node["l"], b""  # first: the keys before the first entry
                for entry in node["e"]:
                    entry_key = previous[: entry["p"]] + entry["k"]
                    if key == entry_key:
                        value = entry["v"]
                        if not isinstance(value, bytes):
                            raise TypeError("value")
                        return value
                    if key < entry_key:
                        break
                    link, previous = entry["t"], entry_key  # keys up to the next entry
        except (KeyError, TypeError) as e:
            raise Unproven("mst-malformed", "a tree node is not {l, e: [{p, k, v, t}]}") from e
        raise Unproven("mst-malformed", "the tree is deeper than any MST can be")

    def _node(self, link: Any) -> dict[str, Any]:
        node = _node(self._blocks, link, "mst")
        self._nodes[link] = node
        return node
