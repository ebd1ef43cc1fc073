"""A recorded firehose: `#commit` frames built like a PDS builds them, and a server replaying them.

Frames carry a DAG-CBOR header and body, a CAR with the signed commit block, the tree nodes on
the op's path and the record block, and op CIDs over the record bytes, so they go through the
real consumer's decode path and its proof and signature checks. Each repo's key derives from
its DID (`tests.fixtures.repo`). The server sends the frames after the client's cursor, then
holds the connection open; it also answers `GET /<did>` with that DID's document, as a PLC
directory would, so an AppView pointed at it (`plc_url`) can check the signatures.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import libipld
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.syntax import dag_cbor, tid_from_parts
from tests.fixtures.repo import cid_of, commit_frame, did_document, repo_private_key, signer
from tests.services.appview.chain import chain

FILLER = 12  # other records each synthesised repo holds: a tree a few levels deep


@functools.lru_cache(maxsize=1024)
def _repo(did: str) -> tuple[Any, dict[str, bytes]]:
    """The repo's signer, and the records it holds besides those the stream adds."""
    filler = {f"{ids.ACCOUNT_PROFILE}/f{i:012d}": cid_of(dag_cbor({"n": i})) for i in range(FILLER)}
    return signer(repo_private_key(did)), filler


def create_frame(seq: int, repo: str, rev: str, path: str, value: dict[str, Any]) -> bytes:
    sign, filler = _repo(repo)
    block = dag_cbor(value)
    tree = {**filler, path: cid_of(block)}
    return commit_frame(seq, repo, rev, [("create", path, block)], tree, sign=sign)


def delete_frame(seq: int, repo: str, rev: str, path: str) -> bytes:
    sign, filler = _repo(repo)
    return commit_frame(seq, repo, rev, [("delete", path, None)], filler, sign=sign)


def did_documents(_connection: ServerConnection, request: Request) -> Response | None:
    """`process_request` for a replay server: `GET /<did>` answers that DID's document, which
    names the replay server as the repo's PDS."""
    path = unquote(urlsplit(request.path).path).lstrip("/")
    if not path.startswith("did:"):
        return None  # the websocket handshake goes on
    pds = f"http://{request.headers.get('Host', '')}"
    body = json.dumps(did_document(path, pds=pds)).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(HTTPStatus.OK, "OK", headers, body)


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

    async with serve(
        handler, "127.0.0.1", 0, max_size=None, compression=None, process_request=did_documents
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"
