"""Per-request output path: decoded text → stop strings → `<think>` split → tool calls → deltas."""

from __future__ import annotations

from collections.abc import Callable

from services.provider.engine.base import BackendFinish
from services.provider.engine.formats import check_output
from services.provider.engine.reasoning import ThinkSplitter
from services.provider.engine.stops import StopMatcher
from services.provider.engine.tools import ToolCallParser
from services.provider.engine.types import (
    Channel,
    Delta,
    Finish,
    FinishReason,
    GenerationRequest,
)


class OutputPipeline:
    """Stop strings are matched on the raw text first (so they can end reasoning too and never
    leak); then reasoning is split off; tool calls are parsed from the content channel only."""

    def __init__(
        self, req: GenerationRequest, *, start_in_reasoning: bool, new_id: Callable[[], str]
    ) -> None:
        self._format = req.response_format
        self._stops = StopMatcher(req.stop)
        self._think = ThinkSplitter(start_inside=start_in_reasoning)
        self._tools: ToolCallParser | None = None
        if req.tools_active:
            allowed = frozenset(t["function"]["name"] for t in req.tools)
            self._tools = ToolCallParser(new_id, allowed=allowed)
        self._content: list[str] = []

    @property
    def stopped(self) -> bool:
        """A stop string was seen: the sequence must end now, with reason `stop`."""
        return self._stops.stopped

    def feed(self, text: str) -> list[Delta]:
        return self._route(self._think.feed(self._stops.feed(text)))

    def finish(
        self, reason: BackendFinish, *, prompt_tokens: int, completion_tokens: int
    ) -> tuple[list[Delta], Finish]:
        """Flushes held-back text at a natural end and builds the Finish."""
        tail = self._route(self._think.feed(self._stops.flush()) + self._think.flush())
        if self._tools is not None:
            tail += self._keep(self._tools.flush())
        calls = tuple(self._tools.calls) if self._tools is not None else ()
        final: FinishReason = "tool_calls" if calls and reason == "stop" else reason
        ok, error = (None, None) if calls else check_output("".join(self._content), self._format)
        return tail, Finish(
            final,
            prompt_tokens,
            completion_tokens,
            tool_calls=calls,
            format_ok=ok,
            format_error=error,
        )

    def _route(self, pieces: list[tuple[Channel, str]]) -> list[Delta]:
        out: list[Delta] = []
        for channel, text in pieces:
            if channel == "reasoning":
                out.append(Delta("reasoning", text))
            elif self._tools is not None:
                out += self._keep(self._tools.feed(text))
            else:
                out += self._keep([Delta("content", text)])
        return out

    def _keep(self, deltas: list[Delta]) -> list[Delta]:
        self._content += [d.text for d in deltas if d.channel == "content"]
        return deltas
