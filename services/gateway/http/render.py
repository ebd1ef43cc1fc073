"""OpenAI response shapes: chat and text completions, whole or as SSE chunks."""

from __future__ import annotations

import json
from typing import Any

from ..job import Finished, RunningJob
from ..output import Delta


def usage(f: Finished) -> dict[str, int]:
    return {"prompt_tokens": f.tokens_in, "completion_tokens": f.tokens_out,
            "total_tokens": f.tokens_in + f.tokens_out}  # fmt: skip


def chat_completion(job: RunningJob, f: Finished, x_cocore: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": job.content}
    if job.reasoning:
        message["reasoning_content"] = job.reasoning
    calls = job.tool_calls
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
        message["content"] = job.content or None
    return {
        "id": f"chatcmpl-{job.id}", "object": "chat.completion", "created": job.created,
        "model": job.req.model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": f.finish_reason}],
        "usage": usage(f), "x_cocore": x_cocore,
    }  # fmt: skip


def text_completion(job: RunningJob, f: Finished, x_cocore: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"cmpl-{job.id}", "object": "text_completion", "created": job.created,
        "model": job.req.model,
        "choices": [{"index": 0, "text": job.content, "logprobs": None,
                     "finish_reason": f.finish_reason}],
        "usage": usage(f), "x_cocore": x_cocore,
    }  # fmt: skip


def whole(job: RunningJob, f: Finished, x_cocore: dict[str, Any]) -> dict[str, Any]:
    if job.req.kind == "chat":
        return chat_completion(job, f, x_cocore)
    return text_completion(job, f, x_cocore)


class ChunkWriter:
    """SSE frames for one job: `data: <json>\\n\\n` … `data: [DONE]\\n\\n`."""

    def __init__(self, job: RunningJob) -> None:
        self.job = job
        self.chat = job.req.kind == "chat"
        self._role_sent = False

    def delta(self, d: Delta) -> str:
        if not self.chat:
            return self._frame([{"index": 0, "text": d.content, "logprobs": None,
                                 "finish_reason": None}])  # fmt: skip
        delta: dict[str, Any] = {}
        if not self._role_sent:
            delta["role"] = "assistant"
            self._role_sent = True
        if d.content:
            delta["content"] = d.content
        if d.reasoning:
            delta["reasoning_content"] = d.reasoning
        if d.tool_calls:
            delta["tool_calls"] = list(d.tool_calls)
        return self._frame([{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": None}])  # fmt: skip

    def finish(self, f: Finished, x_cocore: dict[str, Any]) -> str:
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": f.finish_reason}
        if self.chat:
            choice["delta"] = {} if self._role_sent else {"role": "assistant"}
        else:
            choice["text"] = ""
        frames = self._frame([choice], x_cocore=x_cocore)
        if self.job.req.include_usage:
            frames += self._frame([], usage=usage(f))
        return frames + "data: [DONE]\n\n"

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {
            "id": f"{'chatcmpl' if self.chat else 'cmpl'}-{self.job.id}",
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.job.created, "model": self.job.req.model, "choices": choices,
            **extra,
        }  # fmt: skip
        return sse(body)


def sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, separators=(',', ':'), ensure_ascii=False)}\n\n"


def headers(x_cocore: dict[str, Any]) -> dict[str, str]:
    """`x-cocore-*` response headers matching the `x_cocore` object (known values only)."""
    out = {}
    for key, value in x_cocore.items():
        if value is None:
            continue
        name = "x-cocore-" + key.replace("_", "-")
        out[name] = (
            f"{value['amount']} {value['currency']}" if isinstance(value, dict) else str(value)
        )
    return out
