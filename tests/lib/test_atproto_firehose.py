"""Firehose frames and the consumer, fed crafted frames by a loopback websocket server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libipld
import pytest
from websockets.asyncio.server import ServerConnection, serve

from cocore.atproto import (
    AccountEvent,
    Backoff,
    Batch,
    FirehoseConsumer,
    FirehoseError,
    FirehoseFutureCursor,
    FrameTooLarge,
    IdentityEvent,
    InfoEvent,
    MalformedFrame,
    RecordOp,
    SyncEvent,
    UnverifiedCommit,
    decode_frame,
    subscribe_url,
)
from cocore.atproto._cbor import record_json
from cocore.lexicon import ids
from tests.fixtures.repo import cid_of, commit_frame

REPO = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
JOB = str(ids.COMPUTE_JOB)


def frame(kind: str, body: dict[str, Any]) -> bytes:
    return libipld.encode_dag_cbor({"op": 1, "t": kind}) + libipld.encode_dag_cbor(body)


def error_frame(name: str) -> bytes:
    return libipld.encode_dag_cbor({"op": -1}) + libipld.encode_dag_cbor({"error": name})


def commit(seq: int, changes: list[tuple[str, str, dict[str, Any] | None]], **extra: Any) -> bytes:
    """A signed #commit frame whose tree holds what it creates or updates; CID-shaped bytes
    become links, as libipld encodes them."""
    ops = [(a, p, None if r is None else libipld.encode_dag_cbor(r)) for a, p, r in changes]
    tree = {p: cid_of(block) for _, p, block in ops if block is not None}
    return commit_frame(seq, REPO, f"rev{seq}", ops, tree, override=extra)


def job(n: int) -> dict[str, Any]:
    return {"$type": JOB, "n": n}


# ---------------------------------------------------------------- frame decoding


def test_commit_frame_decodes_to_record_ops() -> None:
    link_target = cid_of(b"blob")
    rich = {"$type": JOB, "ref": link_target, "raw": b"\x00\x01\xff", "list": [1, -2, None, True]}
    f = decode_frame(commit(7, [("create", f"{JOB}/3aaaaaaaaaaaa", rich),
                                ("update", f"{JOB}/3aaaaaaaaaaab", job(2)),
                                ("delete", f"{JOB}/3aaaaaaaaaaac", None),
                                ("create", "app.bsky.feed.post/3aaaaaaaaaaad", job(3))]),
                     ("dev.cocore.",))  # fmt: skip
    assert f.seq == 7 and len(f.events) == 3
    create, update, delete = f.events
    assert isinstance(create, RecordOp) and isinstance(update, RecordOp)
    assert isinstance(delete, RecordOp)
    assert create.record == {"$type": JOB, "ref": {"$link": libipld.encode_cid(link_target)},
                             "raw": {"$bytes": "AAH/"}, "list": [1, -2, None, True]}  # fmt: skip
    assert create.cid == libipld.encode_cid(cid_of(libipld.encode_dag_cbor(rich)))
    assert create.uri == f"at://{REPO}/{JOB}/3aaaaaaaaaaaa" and create.rev == "rev7"
    assert (update.action, update.record) == ("update", job(2))
    assert (delete.action, delete.cid, delete.record) == ("delete", None, None)
    assert len(decode_frame(commit(7, [("create", "app.bsky.x.y/3aaaaaaaaaaad", job(3))]))
               .events) == 1  # fmt: skip


def test_a_commit_without_blocks_proves_nothing() -> None:
    raw = commit(2, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))], blocks=b"", tooBig=True)
    (event,) = decode_frame(raw).events
    assert isinstance(event, UnverifiedCommit) and (event.did, event.reason) == (REPO, "no-blocks")
    assert decode_frame(raw).commit is None


def test_other_frame_types() -> None:
    t = "2026-11-21T00:00:00Z"
    ident = decode_frame(frame("#identity", {"seq": 2, "did": REPO, "time": t, "handle": "a.test"}))
    assert ident.events == (IdentityEvent(2, REPO, "a.test", t),)  # type: ignore[arg-type]
    acct = decode_frame(frame("#account", {"seq": 3, "did": REPO, "time": t, "active": False,
                                           "status": "takendown"}))  # fmt: skip
    assert acct.events == (AccountEvent(3, REPO, False, "takendown", t),)  # type: ignore[arg-type]
    sync = decode_frame(
        frame("#sync", {"seq": 4, "did": REPO, "time": t, "rev": "r", "blocks": b""})
    )
    assert sync.events == (SyncEvent(4, REPO, "r", t),)  # type: ignore[arg-type]
    info = decode_frame(frame("#info", {"name": "OutdatedCursor"}))
    assert (info.seq, info.events) == (None, (InfoEvent("OutdatedCursor", None),))
    unknown = decode_frame(frame("#labels", {"seq": 9, "labels": []}))
    assert (unknown.seq, unknown.events, unknown.known) == (9, (), False)
    err = decode_frame(error_frame("ConsumerTooSlow"))
    assert err.error is not None and err.error.error == "ConsumerTooSlow"


def _tampered_block() -> bytes:
    good = commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))])
    return good.replace(libipld.encode_dag_cbor(job(1)), libipld.encode_dag_cbor(job(2)))


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "garbage": b"\xff\x00garbage",
    "header only": libipld.encode_dag_cbor({"op": 1, "t": "#commit"}),
    "three parts": commit(1, []) + libipld.encode_dag_cbor({}),
    "header not a map": libipld.encode_dag_cbor([1]) + libipld.encode_dag_cbor({}),
    "bad op": libipld.encode_dag_cbor({"op": 2}) + libipld.encode_dag_cbor({}),
    "truncated": commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))])[:-9],
    "no seq": frame("#identity", {"did": REPO, "time": "t"}),
    "negative seq": frame("#identity", {"seq": -1, "did": REPO, "time": "t"}),
    "bool seq": frame("#identity", {"seq": True, "did": REPO, "time": "t"}),
    "bad did": frame("#identity", {"seq": 1, "did": "alice", "time": "t"}),
    "ops not a list": commit(1, [], ops={"a": 1}),
    "op not a map": commit(1, [], ops=[5]),
    "bad action": commit(1, [("upsert", f"{JOB}/3aaaaaaaaaaaa", job(1))]),
    "no rkey": commit(1, [("create", JOB, job(1))]),
    "bad collection": commit(1, [("create", "nodots/3aaaaaaaaaaaa", job(1))]),
    "blocks not bytes": commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))], blocks="x"),
    "bad car": commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))], blocks=b"\x05\x01"),
    "block hash mismatch": _tampered_block(),
    "account active not bool": frame("#account", {"seq": 1, "did": REPO, "time": "t", "active": 1}),
    "info without name": frame("#info", {"message": "x"}),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frames_raise_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedFrame):
        decode_frame(raw)


def test_record_block_decoding() -> None:
    assert record_json(libipld.encode_dag_cbor({"a": b"\x01\x02"})) == {"a": {"$bytes": "AQI"}}
    nested: Any = "x"
    for _ in range(70):
        nested = [nested]
    with pytest.raises(MalformedFrame):
        record_json(libipld.encode_dag_cbor({"deep": nested}))
    with pytest.raises(MalformedFrame):  # the exact decoder (a link is present) is bounded too
        record_json(libipld.encode_dag_cbor({"l": cid_of(b"x"), "deep": nested}))
    bad = {
        "indefinite map": b"\xbf\x61a\x01\xff",
        "int key + link": b"\xa2\x01\x01\x61l" + libipld.encode_dag_cbor(cid_of(b"x")),
        "tag 1": b"\xa2\x61t\xc1\x01\x61l" + libipld.encode_dag_cbor(cid_of(b"x")),
        "not a map": libipld.encode_dag_cbor([cid_of(b"x")]),
        "huge length": b"\xa2\x61l"
        + libipld.encode_dag_cbor(cid_of(b"x"))
        + b"\x61b\x9b"
        + b"\xff" * 8,
        "trailing": libipld.encode_dag_cbor({"l": cid_of(b"x")}) + b"\x00",
    }
    for name, block in bad.items():
        with pytest.raises(MalformedFrame):
            record_json(block)
        assert name


def test_subscribe_url() -> None:
    assert subscribe_url("http://127.0.0.1:2583") == (
        "ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos"
    )
    assert subscribe_url("https://pds.example/xrpc/") == (
        "wss://pds.example/xrpc/com.atproto.sync.subscribeRepos"
    )
    url = "wss://relay.example/xrpc/com.atproto.sync.subscribeRepos"
    assert subscribe_url(url) == url


# ---------------------------------------------------------------- the consumer


Script = Callable[[int, str | None], list[bytes | str]]


class FakePds:
    """Serves one scripted list of frames per connection, then closes (or holds) it."""

    def __init__(self, script: Script, hold: bool = True) -> None:
        self.script, self.hold = script, hold
        self.cursors: list[str | None] = []
        self.closed = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        cursor = parse_qs(urlsplit(ws.request.path).query).get("cursor", [None])[0]
        self.cursors.append(cursor)
        for message in self.script(len(self.cursors), cursor):
            await ws.send(message)
        if self.hold:
            await ws.wait_closed()
            self.closed.set()


async def nosleep(_: float) -> None:
    await asyncio.sleep(0)


async def run(
    pds: FakePds, until: Callable[[list[Batch]], bool], **kw: Any
) -> tuple[list[Batch], FirehoseConsumer]:
    async with serve(pds.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        kw.setdefault("sleep", nosleep)
        consumer = FirehoseConsumer(f"http://127.0.0.1:{port}", **kw)
        batches: list[Batch] = []

        async def consume() -> None:
            async for batch in consumer:
                batches.append(batch)
                if until(batches):
                    break

        await asyncio.wait_for(consume(), 10)
        return batches, consumer


def seqs(batches: list[Batch]) -> list[int | None]:
    return [b.seq for b in batches]


async def test_consumer_skips_malformed_and_filters() -> None:
    def script(n: int, cursor: str | None) -> list[bytes | str]:
        return [b"\x00junk", "text frame", commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))]),
                frame("#labels", {"seq": 2}),
                commit(3, [("create", "app.bsky.feed.post/3aaaaaaaaaaab", job(3))]),
                MALFORMED["block hash mismatch"],
                commit(4, [("delete", f"{JOB}/3aaaaaaaaaaaa", None)])]  # fmt: skip

    pds = FakePds(script)
    batches, consumer = await run(pds, lambda b: seqs(b)[-1] == 4, collections=["dev.cocore."])
    assert seqs(batches) == [1, 4]
    s = consumer.stats
    assert (s.frames, s.malformed, s.unknown, s.events, s.connects) == (7, 3, 1, 2, 1)
    assert consumer.cursor == 3  # batch 4 was handed out but the caller never asked for more
    await asyncio.wait_for(pds.closed.wait(), 5)  # breaking out closed the socket


async def test_consumer_resumes_after_drop_without_gaps_or_duplicates() -> None:
    def script(n: int, cursor: str | None) -> list[bytes | str]:
        start = int(cursor or 0)
        # Each connection replays one already-seen frame first (a sloppy server) then 2 new.
        frames = [commit(s, [("create", f"{JOB}/3aaaaaaaaaaa{chr(97 + s)}", job(s))])
                  for s in range(max(start, 1), start + 3)]  # fmt: skip
        return list(frames)

    pds = FakePds(script, hold=False)
    batches, consumer = await run(pds, lambda b: len(b) >= 6, cursor=None)
    assert seqs(batches) == [1, 2, 3, 4, 5, 6]
    assert pds.cursors[:3] == [None, "2", "4"]
    assert consumer.stats.stale == 2 and consumer.stats.reconnects >= 2


async def test_consumer_error_frames() -> None:
    def script(n: int, cursor: str | None) -> list[bytes | str]:
        if n == 1:
            return [commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa", job(1))]),
                    error_frame("ConsumerTooSlow")]  # fmt: skip
        if n == 2:
            return [commit(2, [("create", f"{JOB}/3aaaaaaaaaaab", job(2))])]
        return [error_frame("FutureCursor")]

    pds = FakePds(script, hold=False)
    batches: list[Batch] = []

    def keep_going(seen: list[Batch]) -> bool:
        batches[:] = seen
        return False

    with pytest.raises(FirehoseFutureCursor):
        await run(pds, keep_going)
    assert seqs(batches) == [1, 2] and pds.cursors[:3] == [None, "1", "2"]


async def test_consumer_refuses_oversized_frames() -> None:
    pds = FakePds(lambda n, c: [commit(1, [("create", f"{JOB}/3aaaaaaaaaaaa",
                                             {"$type": JOB, "pad": "x" * 4000})])])  # fmt: skip
    with pytest.raises(FrameTooLarge):
        await run(pds, lambda b: True, max_frame_bytes=1024)


async def test_consumer_gives_up_after_max_failures() -> None:
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    consumer = FirehoseConsumer("http://127.0.0.1:9", max_failures=3, sleep=sleep,
                                backoff=Backoff(0.1, 0.4))  # fmt: skip
    with pytest.raises(FirehoseError):
        async for _ in consumer:
            pass
    assert consumer.stats.reconnects == 3 and len(delays) == 3
    assert 0.05 <= delays[0] <= 0.1 and 0.1 <= delays[1] <= 0.2 and 0.2 <= delays[2] <= 0.4


async def test_events_iterator_moves_cursor_after_whole_frame() -> None:
    two = [("create", f"{JOB}/3aaaaaaaaaaaa", job(1)), ("create", f"{JOB}/3aaaaaaaaaaab", job(2))]
    one = [("create", f"{JOB}/3aaaaaaaaaaac", job(3))]
    pds = FakePds(lambda n, c: [commit(5, two), commit(6, one)])  # type: ignore[arg-type]
    async with serve(pds.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        consumer = FirehoseConsumer(f"http://127.0.0.1:{port}", cursor=4)
        cursors: list[int | None] = []
        events: AsyncIterator[Any] = consumer.events()
        async for event in events:
            cursors.append(consumer.cursor)
            if event.seq == 6:
                break
    assert cursors == [4, 4, 5]
