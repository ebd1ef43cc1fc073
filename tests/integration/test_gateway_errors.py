"""Every error the gateway answers, with its exact status and code (the official client's
exception classes where it has one), and no money held after any of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from services.provider import events as provider_events
from tests.integration.matchmaker_kit import eventually, slots_in_use
from tests.network import STALL, TINY, TestNetwork, User

pytestmark = pytest.mark.pds
HELLO = [{"role": "user", "content": "ka lo mi"}]


@pytest.fixture
async def user(network: TestNetwork) -> User:
    return await network.user()


@pytest.fixture
async def http(network: TestNetwork) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=network.url, timeout=30) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def chat_error(http: httpx.AsyncClient, key: str, **body: Any) -> tuple[int, dict[str, Any]]:
    payload = {"model": TINY, "messages": HELLO, "max_tokens": 4, **body}
    r = await http.post("/v1/chat/completions", headers=auth(key), json=payload)
    return r.status_code, r.json()["error"]


async def no_hold_left(net: TestNetwork, did: str) -> None:
    stub = net.gateway.ctx.exchange
    for _ in range(100):
        if (await stub.balance(did)).held == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a hold was left behind")


async def nothing_queued(net: TestNetwork, did: str) -> None:
    """A job refused before it ran leaves no job or authorization to publish."""
    assert await net.gateway.ctx.outbox.pending(did) == 0


async def test_400_names_the_field(http: httpx.AsyncClient, user: User) -> None:
    status, error = await chat_error(http, user.key, temperature=9)
    assert (status, error["type"], error["code"], error["param"]) == (
        400, "invalid_request_error", "invalid_request", "temperature")  # fmt: skip
    r = await http.post("/v1/chat/completions", headers=auth(user.key), content=b"{nope")
    assert r.status_code == 400 and r.json()["error"]["param"] == "body"


async def test_401_invalid_api_key(network: TestNetwork, http: httpx.AsyncClient) -> None:
    async with network.openai("cocore-" + "A" * 43) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model=TINY, messages=HELLO)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    r = await http.post("/v1/chat/completions", json={"model": TINY, "messages": HELLO})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    # A DID claimed in headers without the edge secret is refused, not believed.
    forged = {"x-cocore-edge": "guess", "x-cocore-did": "did:plc:x", "x-cocore-key-id": "k"}
    r = await http.post("/v1/chat/completions", headers=forged,
                        json={"model": TINY, "messages": HELLO})  # fmt: skip
    assert r.status_code == 401


def provider_jobs(outcome: str) -> float:
    """Jobs the provider machine ended this way (its own metric)."""
    value = provider_events.REGISTRY.get_sample_value(
        "cocore_provider_jobs_total", {"outcome": outcome})  # fmt: skip
    return value or 0.0


async def test_402_insufficient_balance(network: TestNetwork, user: User) -> None:
    cancelled, completed = provider_jobs("cancelled"), provider_jobs("completed")
    async with network.openai(user.key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            # Greedy to the tiny model's whole context: left alone, the job runs a while.
            await client.chat.completions.create(
                model=TINY, messages=HELLO, max_tokens=1_500_000, temperature=0)  # fmt: skip
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_balance"
    details = caught.value.body["details"]  # type: ignore[index]
    assert details["short_by"] > 0 and details["required"] > details["available"]
    await no_hold_left(network, user.did)  # admission failed while the pick succeeded
    await nothing_queued(network, user.did)
    # The picked slot comes back promptly, not at once: the gateway's cancel of the job travels
    # on the dispatch stream while the 402 is answered.
    await eventually(lambda: slots_in_use(network.matchmaker) == 0, timeout_s=2.0)
    # It came back because the job was stopped, unbilled, not because it ended: once the machine
    # holds no job, none completed (left alone, it runs to the end of the context). The cancel
    # may stop it at the matchmaker before it reaches the machine, or at the machine, where it
    # is counted cancelled; either way nothing more.
    machine = network.machine.link
    assert machine is not None
    await eventually(lambda: len(machine.jobs) == 0, timeout_s=5.0)
    assert provider_jobs("completed") == completed
    assert provider_jobs("cancelled") in (cancelled, cancelled + 1)


async def test_402_key_budget(network: TestNetwork, http: httpx.AsyncClient, user: User) -> None:
    r = await http.post("/xrpc/dev.cocore.account.createApiKey", headers=auth(user.key),
                        json={"name": "tight", "budget": 10})  # fmt: skip
    status, error = await chat_error(http, r.json()["secret"])
    assert (status, error["code"]) == (402, "budget_exceeded")


async def test_403_terms_not_accepted(network: TestNetwork) -> None:
    stranger = await network.user(terms=False)
    async with network.openai(stranger.key) as client:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await client.chat.completions.create(model=TINY, messages=HELLO)
    assert caught.value.code == "terms_not_accepted"
    details = caught.value.body["details"]  # type: ignore[index]
    assert details == {"terms_uri": "https://cocore.test/terms", "terms_version": "v2"}


async def test_404_model_not_found(network: TestNetwork, user: User) -> None:
    async with network.openai(user.key) as client:
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert caught.value.code == "model_not_found"
    await no_hold_left(network, user.did)  # the pick failed while admission succeeded
    await nothing_queued(network, user.did)


async def test_413_body_too_large(http: httpx.AsyncClient, user: User) -> None:
    huge = {"model": TINY, "messages": [{"role": "user", "content": "x" * (5 * 1024 * 1024)}]}
    r = await http.post("/v1/chat/completions", headers=auth(user.key), json=huge)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


async def test_429_rate_limited(network: TestNetwork, http: httpx.AsyncClient, user: User) -> None:
    r = await http.post("/xrpc/dev.cocore.account.createApiKey", headers=auth(user.key),
                        json={"name": "slow", "requestsPerMinute": 1})  # fmt: skip
    slow = r.json()["secret"]
    assert r.json()["key"]["requestsPerMinute"] == 1
    async with network.openai(slow) as client:
        await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1)
    assert caught.value.code == "rate_limited"
    assert int(caught.value.response.headers["retry-after"]) > 0


async def test_503_no_providers_available(network: TestNetwork, user: User) -> None:
    async with network.openai(user.key) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model=TINY, messages=HELLO,
                                                 extra_body={"country": "ZZ"})  # fmt: skip
    assert caught.value.status_code == 503 and caught.value.code == "no_providers_available"
    await no_hold_left(network, user.did)
    await nothing_queued(network, user.did)


async def test_504_provider_timeout_releases_the_hold(network: TestNetwork, user: User) -> None:
    async with network.openai(user.key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model=STALL, messages=HELLO, max_tokens=2)
    assert caught.value.status_code == 504 and caught.value.code == "provider_timeout"
    await no_hold_left(network, user.did)
    balance = await network.gateway.ctx.exchange.balance(user.did)
    assert balance.balance == balance.available == 1_000_000  # the onboarding grant, untouched
