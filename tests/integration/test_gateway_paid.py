"""A paid request end to end with the official `openai` client: the real PDS, exchange,
matchmaker, a provider on the tiny model, and the gateway. After each answer the receipt
verifies, the settlement exists and the balances moved exactly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cocore.atproto import AtprotoClient
from cocore.syntax import parse_at_uri
from cocore.verify import verify_receipt
from tests.network import SCRIPTED, TINY, TestNetwork

pytestmark = pytest.mark.pds
HELLO = [{"role": "user", "content": "ka lo mi ne su"}]


async def record(net: TestNetwork, uri: str) -> dict[str, Any]:
    at = parse_at_uri(uri)
    client = AtprotoClient.anonymous(net.stack.pds_url)
    try:
        for _ in range(100):
            try:
                return (await client.get_record(at.repo, at.collection, at.rkey)).value
            except Exception:  # noqa: BLE001 - not there yet: the outbox writes it soon
                await asyncio.sleep(0.1)
        raise AssertionError(f"{uri} never appeared")
    finally:
        await client.aclose()


async def test_chat_non_streaming_pays_exactly_and_leaves_verifiable_records(
    network: TestNetwork,
) -> None:
    user = await network.user()
    provider, treasury = str(network.provider.client.did), network.treasury
    client = network.openai(user.key)
    # A first answer makes both sides members (the onboarding grant lands on first touch).
    await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=1)
    before = await network.balances(user.did, provider, treasury)
    raw = await client.chat.completions.with_raw_response.create(
        model=TINY, messages=HELLO, max_tokens=8, temperature=0, seed=3)  # fmt: skip
    answer = raw.parse()
    x = answer.model_extra["x_cocore"]
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage.completion_tokens <= 8 and answer.usage.prompt_tokens > 0
    assert x["receipt_uri"] and x["settlement_uri"] and x["provider_did"] == provider
    assert raw.headers["x-cocore-settlement-uri"] == x["settlement_uri"]
    assert raw.headers["x-cocore-job-uri"] == x["job_uri"]
    price = x["price"]["amount"]
    assert price == answer.usage.prompt_tokens + answer.usage.completion_tokens  # 1 CC/token
    assert price <= x["price_ceiling"]["amount"]

    fee = price * 500 // 10_000
    after = await network.balances(user.did, provider, treasury)
    assert after == [before[0] - price, before[1] + price - fee, before[2] + fee]

    receipt = await record(network, x["receipt_uri"])
    job = await record(network, x["job_uri"])  # written from the outbox, off the hot path
    attestation = await record(network, receipt["attestation"]["uri"])
    verdict = verify_receipt(receipt, job, attestation)
    assert verdict.ok, verdict.to_json()
    assert job["priceCeiling"]["amount"] == x["price_ceiling"]["amount"]
    settlement = await record(network, x["settlement_uri"])
    assert settlement["receipt"]["uri"] == x["receipt_uri"]
    auth = await record(network, job["paymentAuthorization"]["uri"])
    assert auth["ceiling"] == job["priceCeiling"]


async def test_chat_streaming_ends_with_done_and_usage(network: TestNetwork) -> None:
    user = await network.user()
    client = network.openai(user.key)
    stream = await client.chat.completions.create(
        model=TINY, messages=HELLO, max_tokens=6, stream=True,
        stream_options={"include_usage": True}, temperature=0, seed=1)  # fmt: skip
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].model_extra["x_cocore"]["receipt_uri"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 6
    assert isinstance(text, str)


async def test_same_seed_same_output_and_completions(network: TestNetwork) -> None:
    user = await network.user()
    client = network.openai(user.key)
    outs = []
    for _ in range(2):
        answer = await client.completions.create(
            model=TINY, prompt="ka lo mi", max_tokens=8, temperature=1.0, seed=7
        )
        outs.append(answer.choices[0].text)
    assert outs[0] == outs[1]
    answer = await client.completions.create(model=TINY, prompt="ka", max_tokens=2)
    assert answer.object == "text_completion" and answer.usage.completion_tokens <= 2


async def test_a_tool_call_round_trip(network: TestNetwork) -> None:
    """The scripted engine (the tiny model cannot call tools) emits a real tool-call block;
    the provider's parser, the sealing, the matchmaker and the gateway carry it back."""
    user = await network.user()
    client = network.openai(user.key)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    first = await client.chat.completions.create(
        model=SCRIPTED, messages=[{"role": "user", "content": "weather?"}], tools=tools
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "city": "Paris"}  # fmt: skip
    follow = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = await client.chat.completions.create(model=SCRIPTED, messages=follow)
    assert second.choices[0].message.content == "Echo: hello"
    sent = network.engine.requests[-1].messages
    assert sent is not None and sent[-1]["tool_call_id"] == call.id


async def test_json_mode_is_forwarded(network: TestNetwork) -> None:
    user = await network.user()
    client = network.openai(user.key)
    answer = await client.chat.completions.create(
        model=SCRIPTED, messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"})  # fmt: skip
    assert json.loads(answer.choices[0].message.content) == {"answer": 42}
    # The job record carries it as the schema of any JSON object (the lexicon has no separate
    # JSON mode): the machine's engine is held to exactly that.
    fmt = network.engine.requests[-1].response_format
    assert fmt is not None and (fmt.type, fmt.schema) == ("json_schema", {"type": "object"})


async def test_models_lists_the_network(network: TestNetwork) -> None:
    user = await network.user(terms=False)
    models = {m.id: m for m in (await network.openai(user.key).models.list()).data}
    assert {TINY, SCRIPTED} <= set(models)
    assert models[TINY].model_extra["x_cocore"]["providers"] == 1
    # The context the machine's engine reports for the model it loaded (the tiny model's 512).
    served = {m.id: m.context_length for m in network.engine.models()}
    assert models[TINY].model_extra["context_length"] == served[TINY] == 512


async def test_openai_user_is_logged_as_a_keyed_tag_never_in_clear(
    network: TestNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    """`user` (OpenAI's end-user id) is honoured for abuse tracing: each job's log line names
    the account and a keyed tag of the end user — stable per (key, user), never the text."""
    user = await network.user()
    client = network.openai(user.key)
    secret = "alice@example.com"
    tags = []
    with caplog.at_level("INFO", logger="cocore.gateway"):
        for end_user in (secret, secret, "bob@example.com", None):
            extra = {"user": end_user} if end_user else {}
            caplog.clear()
            answer = await client.chat.completions.create(model=TINY, messages=HELLO,
                                                          max_tokens=2, **extra)  # fmt: skip
            job = answer.model_extra["x_cocore"]["job_uri"]
            lines = [r.getMessage() for r in caplog.records if "job_ended" in r.getMessage()]
            line = next(x for x in lines if f"job={job}" in x)
            assert f"did={user.did}" in line and secret not in caplog.text
            tags.append(line.split("end_user=")[1].split()[0])
    assert tags[0] == tags[1] and len(tags[0]) == 16 and tags[2] not in (tags[0], "-")
    assert tags[3] == "-"
