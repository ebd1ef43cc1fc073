"""Start-up that either finishes or leaves nothing behind."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def start_or_undo(start: Callable[[contextlib.AsyncExitStack], Awaitable[T]]) -> T:
    """Run `start`, which pushes onto the stack how to undo each step once it is done. If a
    later step fails, the earlier ones are undone, newest first, and the error goes on: a
    database thread or worker process left behind would keep the process from exiting. On
    success `start` keeps the stack in what it returns, whose stop() unwinds it."""
    undo = contextlib.AsyncExitStack()
    try:
        return await start(undo)
    except BaseException:
        await undo.aclose()
        raise
