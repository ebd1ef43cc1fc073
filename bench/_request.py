"""The one request bench/gateway's rows make: a short greedy chat with the tiny model."""

from __future__ import annotations

from services.provider.engine import GenerationRequest
from services.provider.models import TINY_ID

MESSAGES = [{"role": "user", "content": "ka lo mi ne su"}]
MAX_TOKENS = 8


def generation_request() -> GenerationRequest:
    """The same request as the engine sees it, for the paths that call an engine directly."""
    return GenerationRequest(TINY_ID, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0)
