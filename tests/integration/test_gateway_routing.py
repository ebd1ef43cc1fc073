"""Routing extensions end to end (friends-only, pinning, country) and the record outbox
surviving a failed PDS write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import openai
import pytest
from sqlalchemy import update

from cocore.lexicon import ids
from cocore.syntax import TidClock, format_datetime, parse_did
from services.gateway.db import OutboxRow
from services.gateway.records import place
from tests.network import TINY, TestNetwork

pytestmark = pytest.mark.pds
HELLO = [{"role": "user", "content": "ka lo"}]


async def test_friends_only_and_pinning(network: TestNetwork) -> None:
    user = await network.user()
    provider = str(network.provider.client.did)
    client = network.openai(user.key)
    with pytest.raises(openai.InternalServerError) as caught:  # no friends yet
        await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1,
                                             extra_body={"friends_only": True})  # fmt: skip
    assert caught.value.code == "no_providers_available"
    now = str(format_datetime(datetime.now(UTC)))
    await user.client.create_record(ids.ACCOUNT_FRIEND, {"subject": provider, "createdAt": now})
    network.gateway.ctx.paid.friends._cache.clear()  # the 30 s friend cache, for the test
    answer = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1,
                                                  extra_body={"friends_only": True})  # fmt: skip
    assert answer.model_extra["x_cocore"]["provider_did"] == provider

    pinned = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1,
                                                  extra_body={"provider": provider})  # fmt: skip
    assert pinned.model_extra["x_cocore"]["provider_did"] == provider
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(
            model=TINY, messages=HELLO, max_tokens=1,
            extra_body={"provider": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"})  # fmt: skip


async def test_the_outbox_retries_until_the_pds_takes_the_records(network: TestNetwork) -> None:
    user = await network.user(terms=False)
    ctx = network.gateway.ctx
    stored = await ctx.accounts.get(user.did)
    assert stored is not None
    await ctx.accounts.delete(user.did)  # the gateway cannot write for this account now
    tids = TidClock()
    now = str(format_datetime(datetime.now(UTC)))
    friend = place(parse_did(user.did), ids.ACCOUNT_FRIEND, str(tids.next()),
                   {"subject": "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", "createdAt": now})  # fmt: skip
    await ctx.outbox.enqueue(user.did, "g-" + friend.rkey, [friend])
    await ctx.outbox.publish_due()
    assert await ctx.outbox.pending(user.did) == 1  # kept, with a backoff
    await ctx.accounts.save(*stored)  # the user signs in again
    async with ctx.outbox.db.transaction() as session:  # skip the backoff wait
        await session.execute(update(OutboxRow).values(
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    for _ in range(100):  # this call or the outbox's own loop writes it
        await ctx.outbox.publish_due()
        if await ctx.outbox.pending(user.did) == 0:
            break
        await asyncio.sleep(0.05)
    assert await ctx.outbox.pending(user.did) == 0
    view = await user.client.get_record(parse_did(user.did), ids.ACCOUNT_FRIEND,
                                        friend.rkey)  # type: ignore[arg-type]  # fmt: skip
    assert str(view.cid) == friend.cid  # the CID we computed before writing
    await ctx.outbox.publish_due()  # nothing left, nothing rewritten
