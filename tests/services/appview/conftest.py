"""Fixtures for the AppView unit tests: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from cocore.storage import Database, upgrade
from services.appview.read import RecordReader
from services.appview.server import MIGRATIONS
from services.appview.validate import RecordValidator
from services.appview.write import StoreWriter


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Store:
    db: Database
    writer: StoreWriter
    reader: RecordReader
    validator: RecordValidator
    clock: Clock


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await upgrade(db_url, MIGRATIONS)
    clock = Clock()
    async with Database.from_url(db_url) as db:
        yield Store(db, StoreWriter(db, clock), RecordReader(db), RecordValidator(), clock)
