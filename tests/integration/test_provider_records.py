"""The agent's records on the real PDS: the provider record's compare-and-swap keeps the
owner's fields, pro bono is re-read live, the attestation is renewed (injected clock) and the
matchmaker told, `serving: false` on stop, and the outbox survives a PDS blip and a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cocore.atproto import AtprotoClient
from cocore.lexicon import ids
from cocore.syntax import parse_at_uri, parse_record_key
from services.provider.agent import Agent
from services.provider.models import TINY_ID
from services.provider.outbox import Outbox, Publisher
from services.provider.records.provider_record import ProviderRecord
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import Proxy, eventually, matchmaker_config, running_matchmaker
from .provider_kit import PayingRequester, provider_home, publish_policy, running_agent
from .test_provider_serving import cocore_verify, envelope, fetch, wait_receipt

pytestmark = [pytest.mark.pds, pytest.mark.slow]


class OffsetClock:
    """The real clock shifted by `offset` (the agent's injected clock)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
async def world(
    atproto_stack: AtprotoStack, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("provider-records")
    exchange = await publish_policy(atproto_stack)
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp / "mm.sqlite")) as mm:
        account = await atproto_stack.create_account()
        config = provider_home(
            tmp / "home", atproto_stack, account, exchange_did=str(exchange.did),
            matchmaker=mm.address, models_dir=tiny_model_dir.parent, models=[TINY_ID, "ghost"],
        )  # fmt: skip
        # Booted 17 h in the past: its first attestation has 7 h left, inside the renewal window.
        clock = OffsetClock(timedelta(hours=-17))
        agent = await running_agent(config, clock=clock)
        requester = PayingRequester(
            mm.address, (await atproto_stack.create_account()).client, str(exchange.did)
        )
        try:
            yield {
                "mm": mm, "agent": agent, "requester": requester, "account": account,
                "clock": clock, "stack": atproto_stack, "tmp": tmp, "exchange": exchange,
            }  # fmt: skip
        finally:
            await requester.aclose()
            if agent.phase != "stopped":
                await agent.stop()


async def owner_edit(client: AtprotoClient, rkey: str, **fields: Any) -> None:
    """What the console does: read, set owner fields, write with compare-and-swap."""
    key = parse_record_key(rkey)
    view = await client.get_record(client.did, ids.COMPUTE_PROVIDER, key)
    await client.put_record(
        ids.COMPUTE_PROVIDER, key, {**view.value, **fields}, swap_record=view.cid
    )


async def test_renewal_publishes_a_new_attestation_and_tells_the_matchmaker(
    world: dict[str, Any],
) -> None:
    agent: Agent = world["agent"]
    first = agent.keeper.current
    assert first is not None and not agent.keeper.due()  # 24 h left on the agent's clock
    world["clock"].offset = timedelta(0)  # 17 h later: 7 h left, inside the 8 h window
    assert agent.keeper.due()
    await agent.watchers.attestation()
    second = agent.keeper.current
    assert second is not None and second.ref != first.ref
    assert second.expires_at - first.expires_at > timedelta(hours=16)
    assert agent.link.identity.attestation == second.ref  # re-sent on every reconnect too
    requester = world["requester"]
    async with asyncio.timeout(10):  # the matchmaker re-checks the new record, then routes on it
        while [p.attestation.uri for p in await requester.list_providers()] != [second.ref.uri]:
            await asyncio.sleep(0.05)

    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=6)
    answer = await requester.ask(job)
    assert answer.completed is not None, answer.error
    receipt, _ = await wait_receipt(world["stack"].anonymous(), answer.completed.receipt.uri)
    assert receipt["attestation"]["uri"] == second.ref.uri


async def test_the_record_keeps_owner_fields_through_a_racing_compare_and_swap(
    world: dict[str, Any],
) -> None:
    agent: Agent = world["agent"]
    owner: AtprotoClient = world["account"].client
    rkey = str(agent.record.rkey)
    await owner_edit(owner, rkey, desiredModels=["owner-pick"])

    class Racing(ProviderRecord):
        """The owner writes between the agent's read and its put (a real InvalidSwap)."""

        raced = False

        async def read(self) -> Any:
            view = await super().read()
            if not self.raced:
                self.raced = True
                await owner_edit(owner, rkey, payoutsEnabled=True)
            return view

    record = Racing(agent.client, agent.keys.signing.public_key.to_cocore_b64(), cached_rkey=rkey)
    agent.record = record
    published = await agent.publish_record(agent.state(serving=True))
    assert record.raced and str(published.rkey) == rkey
    value, _ = await fetch(world["stack"].anonymous(), f"at://{agent.client.did}/"
                           f"{ids.COMPUTE_PROVIDER}/{rkey}")  # fmt: skip
    assert value["desiredModels"] == ["owner-pick"] and value["payoutsEnabled"] is True
    assert value["supportedModels"] == [TINY_ID] and value["serving"] is True
    assert value["engineFault"]["models"] == ["ghost"]  # configured, honestly not loaded
    assert value["priceList"][0]["inputPricePerMTok"] == 1_000_000
    assert value["attestationPubKey"] == agent.keys.signing.public_key.to_cocore_b64()
    mine = [v async for v in agent.client.iter_records(agent.client.did, ids.COMPUTE_PROVIDER)]
    assert len(mine) == 1  # one record per machine


async def test_pro_bono_is_read_live_and_signed_into_the_receipt(world: dict[str, Any]) -> None:
    agent: Agent = world["agent"]
    requester: PayingRequester = world["requester"]
    await owner_edit(world["account"].client, str(agent.record.rkey),
                     proBono={"mode": "direct", "dids": [requester.did]})  # fmt: skip
    await eventually(lambda: agent.pro_bono.mode == "direct")
    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=6)
    answer = await requester.ask(job)
    assert answer.completed is not None, answer.error
    receipt, _ = await wait_receipt(world["stack"].anonymous(), answer.completed.receipt.uri)
    assert receipt["proBono"] is True
    assert receipt["price"]["amount"] == 0 and receipt["tokens"] == {"in": 0, "out": 0}
    attestation, _ = await fetch(world["stack"].anonymous(), receipt["attestation"]["uri"])
    code, verdict = cocore_verify(
        {"receipt": receipt, "job": job.record, "attestation": attestation,
         "receiptUri": answer.completed.receipt.uri}, world["tmp"],
    )  # fmt: skip
    assert code == 0, verdict
    await owner_edit(world["account"].client, str(agent.record.rkey), proBono={"mode": "off"})
    await eventually(lambda: agent.pro_bono.mode == "")


async def test_the_outbox_survives_a_pds_blip_and_a_restart(world: dict[str, Any]) -> None:
    agent: Agent = world["agent"]
    stack: AtprotoStack = world["stack"]
    requester: PayingRequester = world["requester"]
    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=6)
    answer = await requester.ask(job)
    assert answer.completed is not None
    rkey = parse_at_uri(answer.completed.receipt.uri).rkey
    async with asyncio.timeout(10):
        while (row := await agent.outbox.get(rkey)) is None or row.state != "published":
            await asyncio.sleep(0.05)

    # Replay the same receipt through a fresh outbox whose PDS connection drops.
    proxy = await Proxy(stack.pds_url.removeprefix("http://")).start()
    now = [datetime.now(UTC)]
    path = world["tmp"] / "blip.sqlite"
    outbox = await Outbox.open(path, lambda: now[0])
    client = await AtprotoClient.login(
        f"http://{proxy.address}", world["account"].handle, world["account"].password
    )
    try:
        await _copy_row(outbox, row)
        proxy.blocked = True
        proxy.sever()
        publisher = Publisher(outbox, client)
        assert await publisher.publish_due() == 0
        pending = await outbox.get(row.rkey)
        assert pending is not None and pending.state == "pending" and pending.attempts == 1
        await outbox.close()

        # Restart: a new outbox on the same file; the PDS is back.
        proxy.blocked = False
        now[0] += timedelta(minutes=10)
        reopened = await Outbox.open(path, lambda: now[0])
        assert await Publisher(reopened, client).publish_due() == 1
        done = await reopened.get(row.rkey)
        assert done is not None and done.state == "published"
        await reopened.close()
    finally:
        await client.aclose()
        await proxy.aclose()


async def _copy_row(outbox: Outbox, row: Any) -> None:
    await outbox.hold(row)  # held, then delivered: pending, as the runner leaves it
    await outbox.release(row.rkey, delivered=True)


async def test_stop_drains_and_publishes_serving_false(world: dict[str, Any]) -> None:
    agent: Agent = world["agent"]
    rkey = str(agent.record.rkey)
    await agent.stop()
    value, _ = await fetch(world["stack"].anonymous(),
                           f"at://{agent.client.did}/{ids.COMPUTE_PROVIDER}/{rkey}")  # fmt: skip
    assert value["serving"] is False and value["provisioning"] is False
    assert value["desiredModels"] == ["owner-pick"]  # still the owner's
    await asyncio.sleep(0)
