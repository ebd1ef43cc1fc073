"""The receipt outbox on the real PDS: receipts due together go out in one commit, and a batch
the PDS refuses (one receipt already there, as after a crash) falls back to one put each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cocore.atproto import AtprotoClient
from cocore.lexicon import ids
from services.provider.outbox import Outbox, Publisher
from tests.fixtures.atproto import AtprotoStack
from tests.services.provider.agent import factory as f
from tests.services.provider.agent.test_outbox import receipt

pytestmark = pytest.mark.pds


class Counting:
    """The real client, counting the writes the publisher makes."""

    def __init__(self, client: AtprotoClient) -> None:
        self.client, self.batches, self.puts = client, 0, 0

    async def apply_writes(self, writes: Any) -> Any:
        self.batches += 1
        return await self.client.apply_writes(writes)

    async def put_record(self, *args: Any) -> Any:
        self.puts += 1
        return await self.client.put_record(*args)


@pytest.fixture
async def pds(atproto_stack: AtprotoStack) -> AsyncIterator[Counting]:
    account = await atproto_stack.create_account()
    yield Counting(account.client)


async def _due(outbox: Outbox, tmp_path: Path, n: int) -> list[Any]:
    made = [receipt(tmp_path) for _ in range(n)]
    for r in made:
        await outbox.hold(r)
        await outbox.release(r.rkey, delivered=True)
    return made


async def test_receipts_due_together_go_out_in_one_commit(pds: Counting, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "o.sqlite", lambda: f.T0)
    try:
        made = await _due(outbox, tmp_path, 3)
        assert await Publisher(outbox, pds).publish_due() == 3  # type: ignore[arg-type]
        assert (pds.batches, pds.puts) == (1, 0)
        for r in made:
            row = await outbox.get(r.rkey)
            assert row is not None and row.state == "published"
            view = await pds.client.get_record(pds.client.did, ids.COMPUTE_RECEIPT, r.rkey)
            assert str(view.cid) == r.cid  # the strongRef the completion named resolves
    finally:
        await outbox.close()


async def test_a_refused_batch_falls_back_to_one_put_each(pds: Counting, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "o.sqlite", lambda: f.T0)
    try:
        made = await _due(outbox, tmp_path, 3)
        first = made[0]  # already on the PDS: its put landed, then the process died
        await pds.client.put_record(ids.COMPUTE_RECEIPT, first.rkey, first.record)
        assert await Publisher(outbox, pds).publish_due() == 3  # type: ignore[arg-type]
        assert (pds.batches, pds.puts) == (1, 3)
        assert await outbox.counts() == {"published": 3}
    finally:
        await outbox.close()
