"""An AppView fed by a relay that forges commits: a record swapped under a genuine commit, and a
commit signed by the wrong key. Neither is ever indexed; the repo is read again from its PDS,
and the index ends up equal to what the PDS holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import coincurve
import libipld
import pytest
import websockets
from sqlalchemy import select
from websockets.asyncio.server import ServerConnection, serve

from cocore.atproto._car import car_blocks
from cocore.rpc import ServerConfig
from cocore.syntax import dag_cbor
from services.appview.config import AppViewConfig
from services.appview.db import feed
from services.appview.server import start
from tests.fixtures.atproto import AtprotoStack
from tests.fixtures.repo import car, cid_of, signer
from tests.integration.test_appview_ingest import ground_truth, new_chain
from tests.services.appview.harness import eventually, indexed

pytestmark = pytest.mark.pds


async def pds_frames(stack: AtprotoStack, did: str, ops: int) -> list[bytes]:
    """The PDS's `#commit` frames for `did`, from the start, once `ops` record ops are in."""
    url = stack.pds_url.replace("http", "ws") + "/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
    frames: list[bytes] = []
    async with websockets.connect(url, max_size=None) as ws:
        while sum(len(libipld.decode_dag_cbor_multi(f)[1]["ops"]) for f in frames) < ops:
            raw = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(raw, bytes)
            header, body = libipld.decode_dag_cbor_multi(raw)
            if header.get("t") == "#commit" and body["repo"] == did:
                frames.append(raw)
    return frames


def reframe(raw: bytes, path: str, *, record: dict[str, Any] | None = None,
            key: coincurve.PrivateKey | None = None) -> bytes:  # fmt: skip
    """`raw` with the op at `path` carrying `record` instead, or its commit re-signed by `key`."""
    header, body = libipld.decode_dag_cbor_multi(raw)
    blocks = car_blocks(body["blocks"])
    if record is not None:
        (op,) = [o for o in body["ops"] if o["path"] == path]
        block = dag_cbor(record)
        op["cid"] = cid_of(block)
        blocks[cid_of(block)] = block
    if key is not None:
        commit = libipld.decode_dag_cbor(blocks.pop(body["commit"]))
        del commit["sig"]
        commit["sig"] = signer(key)(libipld.encode_dag_cbor(commit))
        block = libipld.encode_dag_cbor(commit)
        body["commit"], blocks[cid_of(block)] = cid_of(block), block
    body["blocks"] = car(body["commit"], list(blocks.values()))
    return libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body)


@contextlib.asynccontextmanager
async def relay(frames: list[bytes]) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for frame in frames:
                await ws.send(frame)
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        yield f"http://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"


async def test_forged_commits_are_never_indexed_and_the_repo_comes_from_its_pds(
    atproto_stack: AtprotoStack, sqlite_db_url: str
) -> None:
    account = await atproto_stack.create_account()
    did = str(account.client.did)
    c = await new_chain({did: account}, did, did, did)
    frames = await pds_frames(atproto_stack, did, ops=6)
    by_path = {o["path"]: i for i, f in enumerate(frames)
               for o in libipld.decode_dag_cbor_multi(f)[1]["ops"]}  # fmt: skip
    job_path = f"{c.job.collection}/{c.job.rkey}"
    forged_job = {**c.job.value, "maxTokensOut": c.job.value["maxTokensOut"] + 1}
    receipt_path = f"{c.receipt.collection}/{c.receipt.rkey}"
    frames[by_path[job_path]] = reframe(frames[by_path[job_path]], job_path, record=forged_job)
    frames[by_path[receipt_path]] = reframe(
        frames[by_path[receipt_path]], receipt_path, key=coincurve.PrivateKey()
    )
    forged_cid = libipld.encode_cid(cid_of(dag_cbor(forged_job)))
    assert forged_cid != c.job.cid

    async with relay(frames) as url:
        config = AppViewConfig(
            grpc=ServerConfig(port=0, metrics_port=None, grace_s=0.5),
            database_url=sqlite_db_url, relays=(url,), plc_url=atproto_stack.plc_url,
            http_port=0, dev=True,
        )  # fmt: skip
        app = await start(config)
        try:
            truth = await ground_truth(atproto_stack, {did})

            async def matches() -> bool:
                return await indexed(app, {did}) == truth

            await eventually(matches, "the repo to be indexed from its PDS")
            registry = app.grpc.metrics.registry
            for reason in ("op-not-proven", "bad-signature"):
                counted = registry.get_sample_value(
                    "cocore_appview_invalid_records_total", {"reason": reason}
                )
                assert counted == 1, reason
            async with app.db.session() as s:
                cids = set(
                    (await s.execute(select(feed.c.cid).where(feed.c.repo == did))).scalars()
                )
            assert {c.job.cid, c.receipt.cid} <= cids  # from the backfill
            assert forged_cid not in cids, "a forged record reached the feed"
        finally:
            await app.stop()
