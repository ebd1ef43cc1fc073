"""Decoding one `subscribeRepos` frame (header + body, DAG-CBOR) into typed events."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import libipld

from cocore.syntax import (
    Cid,
    Did,
    InvalidSyntaxError,
    Nsid,
    cid_for_digest,
    make_at_uri,
    parse_cid,
    parse_did,
    parse_nsid,
    parse_record_key,
)

from ._car import SHA256_CIDV1, car_blocks
from ._cbor import record_json
from .commit import OpClaim, SignedCommit, Unproven, prove_ops
from .errors import MalformedFrame
from .events import (
    AccountEvent,
    Action,
    FirehoseEvent,
    IdentityEvent,
    InfoEvent,
    RecordOp,
    SyncEvent,
    UnverifiedCommit,
)

_ACTIONS: dict[Any, Action] = {"create": "create", "update": "update", "delete": "delete"}


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    error: str
    message: str | None


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: its seq (None for #info/#error), events kept by the filter, or an error."""

    seq: int | None
    events: tuple[FirehoseEvent, ...] = ()
    error: ErrorFrame | None = None
    known: bool = True
    commit: SignedCommit | None = None  # what proved a #commit's ops (signature unchecked)


def decode_frame(raw: bytes, collections: tuple[str, ...] = ()) -> Frame:
    """Decode a binary frame; ops outside the collection prefixes (if given) are dropped.

    Raises `MalformedFrame` for anything that does not decode to the documented shape.
    """
    try:
        parts = libipld.decode_dag_cbor_multi(raw)
    except (ValueError, RecursionError) as e:
        raise MalformedFrame(f"frame is not DAG-CBOR ({type(e).__name__})") from e
    if len(parts) != 2 or not isinstance(parts[0], dict) or not isinstance(parts[1], dict):
        raise MalformedFrame("a frame is a header map followed by a body map")
    header, body = parts
    try:
        return _dispatch(header, body, collections)
    except (AttributeError, KeyError, TypeError, ValueError, InvalidSyntaxError) as e:
        raise MalformedFrame(
            f"bad {header.get('t', 'frame')!s:.20} body ({type(e).__name__})"
        ) from e


def _dispatch(
    header: Mapping[str, Any], body: Mapping[str, Any], prefixes: tuple[str, ...]
) -> Frame:
    op = header.get("op")
    if op == -1:
        return Frame(None, error=ErrorFrame(_str(body, "error"), _opt_str(body, "message")))
    if op != 1:
        raise MalformedFrame("frame header op must be 1 or -1")
    kind = header.get("t")
    if kind == "#info":
        return Frame(None, (InfoEvent(_str(body, "name"), _opt_str(body, "message")),))
    decode = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decode is None:
        seq = body.get("seq")
        return Frame(seq if type(seq) is int else None, known=False)
    return decode(body, prefixes)


def _commit(body: Mapping[str, Any], prefixes: tuple[str, ...]) -> Frame:
    seq = _int(body, "seq")
    ops = body["ops"]
    if not isinstance(ops, list):
        raise MalformedFrame("#commit ops must be a list")
    paths = [(o, _str(o, "path")) for o in ops]
    wanted = [(o, path) for o, path in paths if path.startswith(prefixes)] if prefixes else paths
    if not wanted:
        return Frame(seq)
    repo, time, rev = _did(_str(body, "repo")), _str(body, "time"), _str(body, "rev")
    raw_blocks = body["blocks"]
    if not isinstance(raw_blocks, bytes):
        raise MalformedFrame("#commit blocks must be bytes")
    if not raw_blocks:
        # A `tooBig` commit (or one whose blocks were stripped) proves none of its ops.
        reason = UnverifiedCommit(seq, repo, "no-blocks", "the commit carries no blocks", time)
        return Frame(seq, (reason,))
    blocks = car_blocks(raw_blocks)
    claims, actions = [], []
    for o, path in wanted:
        action = _ACTIONS[o["action"]]
        raw_cid = o.get("cid") if action != "delete" else None
        if action != "delete" and not isinstance(raw_cid, bytes):
            raise MalformedFrame("a create or update op needs a CID link")
        claims.append(OpClaim(path, raw_cid))
        actions.append(action)
    try:
        commit = prove_ops(blocks, body.get("commit"), repo, rev, claims)
    except Unproven as e:
        return Frame(seq, (UnverifiedCommit(seq, repo, e.reason, e.detail, time),))
    events: list[FirehoseEvent] = []
    for claim, action in zip(claims, actions, strict=True):
        collection_s, _, rkey_s = claim.path.partition("/")
        collection, rkey = _nsid(collection_s), parse_record_key(rkey_s)
        cid, record = _record(claim.cid, blocks) if claim.cid is not None else (None, None)
        uri = make_at_uri(repo, collection, rkey)
        events.append(RecordOp(seq, repo, action, collection, rkey, uri, cid, record, time, rev))
    return Frame(seq, tuple(events), commit=commit)


def _record(raw_cid: Any, blocks: Mapping[bytes, bytes]) -> tuple[Cid, dict[str, Any] | None]:
    if not isinstance(raw_cid, bytes):
        raise MalformedFrame("op cid must be a CID link")
    block = blocks.get(raw_cid)
    if block is None:  # a `tooBig` commit, or a PDS that left the block out
        return parse_cid(libipld.encode_cid(raw_cid)), None
    digest = hashlib.sha256(block).digest()
    if digest != raw_cid[-32:]:
        raise MalformedFrame("record block does not hash to its CID")
    prefix = raw_cid[:4]
    if len(raw_cid) == 36 and prefix in SHA256_CIDV1:
        # The usual CID shape, and the block hashes to it: it is that block's CID, so it
        # needs no parsing back from text (a third of this function's cost otherwise).
        return cid_for_digest(digest, prefix[1]), record_json(block)
    return parse_cid(libipld.encode_cid(raw_cid)), record_json(block)


# Repos and collections repeat frame after frame: parse each once (bounded; valid ones only).
@functools.lru_cache(maxsize=1 << 16)
def _did(value: str) -> Did:
    return parse_did(value)


@functools.lru_cache(maxsize=1 << 10)
def _nsid(value: str) -> Nsid:
    return parse_nsid(value)


def _identity(body: Mapping[str, Any], _: tuple[str, ...]) -> Frame:
    seq = _int(body, "seq")
    event = IdentityEvent(seq, parse_did(body["did"]), _opt_str(body, "handle"), _str(body, "time"))
    return Frame(seq, (event,))


def _account(body: Mapping[str, Any], _: tuple[str, ...]) -> Frame:
    seq, active = _int(body, "seq"), body["active"]
    if not isinstance(active, bool):
        raise MalformedFrame("#account active must be a boolean")
    did, status, time = parse_did(body["did"]), _opt_str(body, "status"), _str(body, "time")
    return Frame(seq, (AccountEvent(seq, did, active, status, time),))


def _sync(body: Mapping[str, Any], _: tuple[str, ...]) -> Frame:
    seq = _int(body, "seq")
    event = SyncEvent(seq, parse_did(body["did"]), _str(body, "rev"), _str(body, "time"))
    return Frame(seq, (event,))


_DECODERS: dict[str, Callable[[Mapping[str, Any], tuple[str, ...]], Frame]] = {
    "#commit": _commit,
    "#identity": _identity,
    "#account": _account,
    "#sync": _sync,
}


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body[key]
    if type(value) is not int or value < 0:
        raise MalformedFrame(f"{key} must be a non-negative integer")
    return value


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise MalformedFrame(f"{key} must be a string")
    return value


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    return None if body.get(key) is None else _str(body, key)
