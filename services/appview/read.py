"""Keyset-paged reads of indexed records; every list is one indexed query, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, func, select
from sqlalchemy.orm import aliased

from cocore.lexicon import ids
from cocore.storage import Database
from cocore.syntax import Nsid

from .cursors import decode_cursor, encode_cursor
from .db import RECORD_TABLES, friends

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class IndexedRecord:
    uri: str
    cid: str
    collection: Nsid
    repo: str
    rkey: str
    body: bytes  # canonical JSON
    indexed_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    records: list[IndexedRecord]
    cursor: str | None


class RecordReader:
    """Reads records by URI or by indexed filters; knows nothing of HTTP or gRPC."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, collection: Nsid, uri: str) -> IndexedRecord | None:
        table = RECORD_TABLES[collection]
        query = _columns(table).where(table.c.uri == uri)
        async with self.db.session() as s:
            row = (await s.execute(query)).first()
        return None if row is None else _record(collection, row)

    async def page(
        self,
        collection: Nsid,
        filters: Sequence[ColumnElement[bool]],
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Rows matching `filters`, newest indexed first, `limit` at a time."""
        table = RECORD_TABLES[collection]
        query = _columns(table).where(*filters)
        if cursor is not None:
            (last_id,) = decode_cursor(cursor, int)
            query = query.where(table.c.id < last_id)
        query = query.order_by(table.c.id.desc()).limit(limit + 1)
        async with self.db.session() as s:
            rows = (await s.execute(query)).all()
        return _page(collection, rows, limit)

    async def friend_edges(
        self, subject: str | None, limit: int, cursor: str | None
    ) -> tuple[list[IndexedRecord], str | None]:
        """The first friend record of each (friender, subject) pair, self-edges left out."""
        older = aliased(friends)
        first_of_pair = ~exists().where(
            and_(
                older.c.repo == friends.c.repo,
                older.c.subject == friends.c.subject,
                older.c.id < friends.c.id,
            )
        )
        filters = [friends.c.repo != friends.c.subject, first_of_pair]
        if subject is not None:
            filters.append(friends.c.subject == subject)
        page = await self.page(ids.ACCOUNT_FRIEND, filters, limit, cursor)
        return page.records, page.cursor

    async def incoming_friend_count(self, subject: str) -> int:
        query = select(func.count(func.distinct(friends.c.repo))).where(
            friends.c.subject == subject, friends.c.repo != subject
        )
        async with self.db.session() as s:
            return int((await s.execute(query)).scalar_one())

    async def friend_edge_count(self) -> int:
        query = select(func.count()).select_from(
            select(friends.c.repo, friends.c.subject)
            .where(friends.c.repo != friends.c.subject)
            .distinct()
            .subquery()
        )
        async with self.db.session() as s:
            return int((await s.execute(query)).scalar_one())


def _columns(table: Table) -> Any:
    c = table.c
    return select(c.id, c.uri, c.cid, c.repo, c.rkey, c.body, c.indexed_at)


def _record(collection: Nsid, row: Any) -> IndexedRecord:
    return IndexedRecord(row.uri, row.cid, collection, row.repo, row.rkey, row.body, row.indexed_at)


def _page(collection: Nsid, rows: Sequence[Any], limit: int) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1].id) if more and rows else None
    return Page([_record(collection, r) for r in rows], cursor)
