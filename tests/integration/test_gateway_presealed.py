"""Pick and dispatch in one call: the gateway seals ahead for the machine a model's jobs went
to, the matchmaker runs the job at once when its pick agrees, and anything else (a cold
cache, a rotated key) falls back to sealing for the pick's candidates — always an answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cocore.crypto import EncryptionKeyPair, SealScheme
from tests.network import TINY, TestNetwork

pytestmark = pytest.mark.pds
HELLO = [{"role": "user", "content": "ka lo mi"}]


async def test_jobs_run_presealed_once_the_gateway_knows_the_machine(
    network: TestNetwork,
) -> None:
    user = await network.user()
    client = network.openai(user.key)
    counter = network.matchmaker.hub.events.picked_dispatches
    sealing = network.gateway.ctx.paid.sealing

    def counts() -> tuple[float, float]:
        return (counter.labels("used")._value.get(), counter.labels("unsealed")._value.get())

    async def ask() -> str:
        answer = await client.chat.completions.create(
            model=TINY, messages=HELLO, max_tokens=4, temperature=0
        )
        assert answer.model_extra["x_cocore"]["provider_did"] == str(network.provider.client.did)
        return answer.choices[0].message.content or ""

    sealing._recent.clear()
    used, unsealed = counts()
    cold = await ask()  # nothing sealed ahead: the pick's candidates come back to be sealed
    assert counts() == (used, unsealed + 1)
    [machine] = sealing._recent[TINY]
    assert machine.did == str(network.provider.client.did)

    warm = await ask()  # sealed ahead for that machine: one call, the same greedy answer
    assert counts() == (used + 1, unsealed + 1)
    assert warm == cold

    streamed = await client.chat.completions.create(
        model=TINY, messages=HELLO, max_tokens=4, temperature=0, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    assert text == cold and counts() == (used + 2, unsealed + 1)

    # The machine's key as the gateway remembers it is not its key now (say it rotated):
    # the matchmaker does not use that input; the gateway seals for the pick and is answered.
    other = EncryptionKeyPair.generate(SealScheme(machine.enc_scheme)).public_key_b64
    sealing._recent[TINY] = [replace(machine, encryption_pub_key=other)]
    assert await ask() == cold
    assert counts() == (used + 2, unsealed + 2)
    assert sealing._recent[TINY][0].encryption_pub_key == machine.encryption_pub_key
