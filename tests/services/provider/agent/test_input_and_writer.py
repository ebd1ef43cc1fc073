"""Opened bytes → engine request, and deltas → sealed chunks on a controlled clock."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.canonical import canonicalize
from cocore.crypto import EncryptionKeyPair, SealScheme, open_request, seal_request
from services.provider.engine import Delta
from services.provider.link import Channel, JobFailure, JobOutput, JobRequest
from services.provider.link.output import OutputLimits, ReplayBudget
from services.provider.serving.job_input import generation_request
from services.provider.serving.writer import ChunkWriter

from . import factory as f


def job(**over: Any) -> JobRequest:
    base: dict[str, Any] = dict(
        job_id="j", requester_did=f.REQUESTER, model="m", sealed_input=b"", requester_pub_key="",
        enc_scheme=SealScheme.X25519, input_format="messages-v1", max_tokens=32,
    )  # fmt: skip
    base.update(over)
    return JobRequest(**base)


def envelope(*messages: dict[str, Any], v: int = 1) -> bytes:
    return canonicalize({"messages": list(messages), "v": v})


def test_messages_v1_keeps_every_turn_and_maps_sampling() -> None:
    calls = [{"function": {"arguments": "{}", "name": "f"}, "id": "c1", "type": "function"}]
    plaintext = envelope(
        {"content": "sys", "role": "system"},
        {"content": [{"text": "hi ", "type": "text"}, {"text": "you", "type": "text"}],
         "role": "user"},
        {"content": "", "role": "assistant", "tool_calls": calls},
        {"content": "42", "role": "tool", "tool_call_id": "c1"},
    )  # fmt: skip
    tools = [{"type": "function", "function": {"name": "f"}}]
    req = generation_request(
        job(temperature_milli=700, top_p_milli=900, seed=5, stop=("END",), tools=tools,
            tool_choice="required", tool_choice_function="f",
            output_schema={"name": "n", "schema": {"type": "object"}}), plaintext,
    )  # fmt: skip
    assert [m["role"] for m in req.messages or ()] == ["system", "user", "assistant", "tool"]
    assert req.messages and req.messages[2]["tool_calls"] == calls
    assert (req.temperature, req.top_p, req.seed, tuple(req.stop)) == (0.7, 0.9, 5, ("END",))
    assert req.tool_choice == {"type": "function", "function": {"name": "f"}}
    assert req.response_format is not None and req.response_format.schema == {"type": "object"}


@pytest.mark.parametrize(
    ("plaintext", "code"),
    [
        (
            envelope(
                {
                    "content": [{"data": "AA==", "mime": "image/png", "type": "image"}],
                    "role": "user",
                }
            ),
            "images_unsupported",
        ),
        (envelope({"content": "x", "role": "user"}, v=2), "invalid_request"),
        (envelope({"content": "x", "role": "wizard"}), "invalid_request"),
        (envelope(), "invalid_request"),
        (b'{"v":1,"messages":[{"role":"user","content":1.5}]}', "invalid_request"),
        (b"\xff\xfe", "invalid_request"),
    ],
)
def test_input_the_engine_cannot_take_is_refused_with_a_code(plaintext: bytes, code: str) -> None:
    with pytest.raises(JobFailure) as e:
        generation_request(job(), plaintext)
    assert e.value.code == code


def test_text_is_a_raw_prompt_and_bad_sampling_is_refused() -> None:
    assert generation_request(job(input_format="text"), "héllo".encode()).prompt == "héllo"
    with pytest.raises(JobFailure) as e:
        generation_request(job(input_format="text", temperature_milli=5000), b"x")
    assert e.value.code == "invalid_request"
    with pytest.raises(JobFailure):
        generation_request(job(input_format="yaml"), b"x")


class FakeClock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_writer_flushes_first_then_by_count_age_and_channel() -> None:
    keys = EncryptionKeyPair.generate(SealScheme.X25519)
    blob, pub, opener = seal_request(SealScheme.X25519, keys.public_key_b64, b"p")
    _, sealer = open_request(keys, pub, blob)
    out = JobOutput("j", OutputLimits(), ReplayBudget(1 << 20, lambda: None), lambda: None)
    out.attached = True
    clock = FakeClock()
    writer = ChunkWriter(out, sealer, flush_s=0.02, flush_tokens=3, clock=clock)
    for piece in ["a", "b", "c", "d"]:  # "a" alone (first), then "bcd" (3 pieces)
        await writer.add(Delta("content", piece))
    await writer.add(Delta("content", "e"))
    assert writer.deadline() == pytest.approx(0.02)
    clock.now = 0.05
    await writer.add(Delta("content", "f"))  # "ef": the oldest piece is past flush_s
    await writer.add(Delta("content", "g"))
    await writer.add(Delta("reasoning", "r"))  # a channel change flushes "g" first
    await writer.flush()
    frame = out.pull()
    assert frame is not None
    # The proto's Channel and the link's Channel are both ints with the same values.
    got: list[tuple[int, str]] = [
        (c.channel, opener.open_chunk(c.sealed).decode()) for c in frame.chunks.chunks
    ]
    assert got == [(Channel.CONTENT, "a"), (Channel.CONTENT, "bcd"), (Channel.CONTENT, "ef"),
                   (Channel.CONTENT, "g"), (Channel.REASONING, "r")]  # fmt: skip
    assert writer.chunks == 5 and writer.deadline() is None
