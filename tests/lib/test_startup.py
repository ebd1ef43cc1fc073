"""start_or_undo: a failed start undoes its finished steps, newest first; a good one none."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from cocore.startup import start_or_undo


async def test_a_failed_start_undoes_the_steps_it_finished_newest_first() -> None:
    undone: list[str] = []

    async def start(undo: contextlib.AsyncExitStack) -> str:
        for step in ("database", "workers", "server"):
            undo.callback(undone.append, step)
        raise OSError("port taken")

    with pytest.raises(OSError, match="port taken"):
        await start_or_undo(start)
    assert undone == ["server", "workers", "database"]


async def test_a_cancelled_start_is_undone_too() -> None:
    undone: list[str] = []

    async def start(undo: contextlib.AsyncExitStack) -> str:
        undo.callback(undone.append, "database")
        await asyncio.sleep(10)
        return "running"

    task = asyncio.create_task(start_or_undo(start))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert undone == ["database"]


async def test_a_finished_start_undoes_nothing() -> None:
    undone: list[str] = []

    async def start(undo: contextlib.AsyncExitStack) -> str:
        undo.callback(undone.append, "database")
        return "running"

    assert await start_or_undo(start) == "running"
    assert undone == []
