"""A recorded firehose: `#commit` frames built like a PDS builds them, and a server replaying them.

Frames carry a DAG-CBOR header and body, a CAR with the commit block and the record block, and
op CIDs over the record bytes, so they go through the real consumer's decode path. The server
sends the frames after the client's cursor, then holds the connection open.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libipld
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.syntax import dag_cbor, tid_from_parts
from tests.services.appview.chain import chain


def cid_bytes(block: bytes) -> bytes:
    return b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out, n = out + bytes([(n & 0x7F) | 0x80]), n >> 7
    return out + bytes([n])


def _car(blocks: list[bytes]) -> bytes:
    header = libipld.encode_dag_cbor({"version": 1, "roots": [cid_bytes(blocks[0])]})
    body = b"".join(_varint(36 + len(b)) + cid_bytes(b) + b for b in blocks)
    return _varint(len(header)) + header + body


def commit_frame(seq: int, repo: str, rev: str, op: dict[str, Any], record: bytes | None) -> bytes:
    """One `#commit` frame with a single op (`record`: the op's DAG-CBOR block, if any)."""
    commit = libipld.encode_dag_cbor({"did": repo, "rev": rev, "version": 3, "prev": None})
    blocks = [commit] + ([record] if record is not None else [])
    body = {
        "seq": seq,
        "repo": repo,
        "rev": rev,
        "since": None,
        "rebase": False,
        "tooBig": False,
        "commit": cid_bytes(commit),
        "blocks": _car(blocks),
        "ops": [op],
        "blobs": [],
        "time": "2026-11-21T00:00:00.000Z",
    }
    return libipld.encode_dag_cbor({"op": 1, "t": "#commit"}) + libipld.encode_dag_cbor(body)


def create_frame(seq: int, repo: str, rev: str, path: str, value: dict[str, Any]) -> bytes:
    block = dag_cbor(value)
    return commit_frame(
        seq, repo, rev, {"action": "create", "path": path, "cid": cid_bytes(block)}, block
    )


def delete_frame(seq: int, repo: str, rev: str, path: str) -> bytes:
    return commit_frame(seq, repo, rev, {"action": "delete", "path": path, "cid": None}, None)


def error_frame(error: str) -> bytes:
    return libipld.encode_dag_cbor({"op": -1}) + libipld.encode_dag_cbor({"error": error})


PROVIDERS, REQUESTERS = 100, 100
MODELS = ("SmolLM2-135M-Instruct", "Qwen3-0.6B", "Llama-3.2-1B", "gemma-3-1b", "phi-4-mini")


def did(kind: str, i: int) -> str:
    alphabet, digits = "abcdefghijklmnopqrstuvwxyz234567", ""
    for _ in range(24 - len(kind)):
        i, r = divmod(i, 32)
        digits = alphabet[r] + digits
    return f"did:plc:{kind}{digits}"


def synthesise(n: int) -> list[bytes]:
    providers = [did("prov", i) for i in range(PROVIDERS)]
    requesters = [did("reqs", i) for i in range(REQUESTERS)]
    now = datetime(2026, 11, 21, tzinfo=UTC)
    template = chain(
        provider=providers[0],
        requester=requesters[0],
        exchange=requesters[0],
        provider_key=SigningKey.generate(),
        exchange_key=SigningKey.generate(),
        now=now,
    )
    start_us = int(now.timestamp() * 1_000_000)
    frames: list[bytes] = []
    receipts: list[tuple[str, str]] = []
    for i in range(n):
        seq, rev = i + 1, str(tid_from_parts(start_us + i, 7))
        if i % 10 == 9 and receipts:
            repo, path = receipts.pop(0)
            frames.append(delete_frame(seq, repo, rev, path))
            continue
        if i % 10 == 4:
            repo, nsid, value = (
                requesters[i % REQUESTERS],
                ids.COMPUTE_JOB,
                dict(template.job.value),
            )
            auth = template.authorization
            value["model"] = MODELS[i % len(MODELS)]
            value["paymentAuthorization"] = {
                "uri": f"at://{repo}/{auth.collection}/{auth.rkey}",
                "cid": auth.cid,
            }
        else:
            repo, nsid = providers[i % PROVIDERS], ids.COMPUTE_RECEIPT
            value = _receipt_value(template.receipt.value, repo, requesters[i % REQUESTERS], i, now)
        path = f"{nsid}/{rev}"
        if nsid == ids.COMPUTE_RECEIPT:
            receipts.append((repo, path))
        frames.append(create_frame(seq, repo, rev, path, value))
    return frames


def _receipt_value(
    template: dict[str, Any], provider: str, requester: str, i: int, now: datetime
) -> dict[str, Any]:
    done = now + timedelta(seconds=i)
    return {
        **template,
        "requester": requester,
        "model": MODELS[i % len(MODELS)],
        "job": {
            "uri": f"at://{requester}/{ids.COMPUTE_JOB}/3aaaaaaaaaaaa",
            "cid": template["job"]["cid"],
        },
        "attestation": {
            "uri": f"at://{provider}/{ids.COMPUTE_ATTESTATION}/3aaaaaaaaaaaa",
            "cid": template["attestation"]["cid"],
        },
        "startedAt": (done - timedelta(milliseconds=800 + i % 700))
        .isoformat()
        .replace("+00:00", "Z"),
        "completedAt": done.isoformat().replace("+00:00", "Z"),
        "tokens": {"in": 10 + i % 50, "out": 100 + i % 400},
    }


@asynccontextmanager
async def firehose(frames: Sequence[bytes]) -> AsyncIterator[str]:
    """Serve `frames` (frame i has seq i + 1) on a loopback port; yields the base URL."""

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        cursor = int(query.get("cursor", ["0"])[0])
        with contextlib.suppress(ConnectionClosed):  # the consumer went away: fine
            for frame in frames[cursor:]:
                await ws.send(frame)
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"
