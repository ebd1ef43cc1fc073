"""Which running asyncio tasks run a given service's code (the test loop hosts others too)."""

from __future__ import annotations

import asyncio
from typing import Any


def tasks_running(service: str) -> set[asyncio.Task[Any]]:
    """Tasks whose coroutine is defined under services/<service>/."""
    return {t for t in asyncio.all_tasks() if f"/services/{service}/" in _code_file(t)}


def _code_file(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return "" if code is None else str(code.co_filename)
