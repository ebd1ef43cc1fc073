"""Start a real AppView (gRPC on port 0, XRPC on a free port) against the test PDS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from cocore.rpc import ServerConfig
from services.appview.config import AppViewConfig
from services.appview.db import RECORD_TABLES
from services.appview.events import Events
from services.appview.items import Outcome
from services.appview.server import AppView, start
from tests.fixtures.atproto import AtprotoStack

DEADLINE_S = 20.0


def config(stack: AtprotoStack, db_url: str, **kw: Any) -> AppViewConfig:
    return AppViewConfig(
        grpc=ServerConfig(port=0, metrics_port=None, grace_s=0.5),
        database_url=db_url,
        pds_hosts=(stack.pds_url,),
        plc_url=stack.plc_url,
        http_port=0,
        dev=True,
        **kw,
    )


@asynccontextmanager
async def running(stack: AtprotoStack, db_url: str, **kw: Any) -> AsyncIterator[AppView]:
    app = await start(config(stack, db_url, **kw))
    try:
        yield app
    finally:
        await app.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after the deadline (not a timing test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def indexed(app: AppView, repos: set[str]) -> set[tuple[str, str]]:
    """(uri, cid) of every indexed record of these repos."""
    out: set[tuple[str, str]] = set()
    async with app.db.session() as s:
        for table in RECORD_TABLES.values():
            rows = await s.execute(select(table.c.uri, table.c.cid).where(table.c.repo.in_(repos)))
            out |= {(r.uri, r.cid) for r in rows}
    return out


async def rows(app: AppView, repos: set[str]) -> set[tuple[Any, ...]]:
    """Everything that must agree between two AppViews fed the same PDS."""
    out: set[tuple[Any, ...]] = set()
    async with app.db.session() as s:
        for name, table in RECORD_TABLES.items():
            skip = {"id", "indexed_at", "rev"}
            cols = [c for c in table.c if c.name not in skip]
            for r in await s.execute(select(*cols).where(table.c.repo.in_(repos))):
                out.add((str(name), *r))
    return out


class CommittedCursor(Events):
    """Follows the committed cursor through the writer's own event (no polling queries)."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor = 0
        self.moved = asyncio.Event()

    def batch_applied(self, source: str, cursor: int | None, outcome: Outcome) -> None:
        super().batch_applied(source, cursor, outcome)
        if cursor is not None:
            self.cursor = cursor
            self.moved.set()

    async def reaches(self, seq: int, timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s):
            while self.cursor < seq:
                self.moved.clear()
                await self.moved.wait()
