"""Keyset-paged reads of indexed records; every list is one indexed query, newest first."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select

from cocore.lexicon import ids
from cocore.storage import Database
from cocore.syntax import Nsid

from .cursors import decode_cursor, encode_cursor
from .db import RECORD_TABLES, friends
from .driver import fetch_all

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
        table = RECORD_TABLES[collection].name
        rows = await fetch_all(self.db, f'{_COLUMNS} FROM "{table}" WHERE uri = ?', (uri,))
        return _record(collection, rows[0]) if rows else None

    async def page(
        self,
        collection: Nsid,
        where: Mapping[str, str],
        limit: int,
        cursor: str | None,
        *,
        first_of_pair: bool = False,
    ) -> Page:
        """Rows whose `where` columns equal the values, newest indexed first, `limit` at a
        time. Each list is one index range: `(column, id)` read backwards from the cursor.
        `first_of_pair` (friends only) keeps the first record of each (repo, subject) pair
        and leaves self-edges out."""
        table = RECORD_TABLES[collection]
        params: list[Any] = list(where.values())
        if cursor is not None:
            (last_id,) = decode_cursor(cursor, int)
            params.append(last_id)
        params.append(limit + 1)
        sql = _page_sql(table, tuple(where), cursor is not None, first_of_pair)
        return _page(collection, await fetch_all(self.db, sql, params), limit)

    async def friend_edges(
        self, subject: str | None, limit: int, cursor: str | None
    ) -> tuple[list[IndexedRecord], str | None]:
        """The first friend record of each (friender, subject) pair, self-edges left out."""
        where = {} if subject is None else {"subject": subject}
        page = await self.page(ids.ACCOUNT_FRIEND, where, limit, cursor, first_of_pair=True)
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


_COLUMNS = "SELECT id, uri, cid, repo, rkey, body, indexed_at"
_FIRST_OF_PAIR = (
    "repo <> subject AND NOT EXISTS (SELECT 1 FROM friends AS older WHERE "
    "older.repo = friends.repo AND older.subject = friends.subject AND older.id < friends.id)"
)


@functools.cache
def _page_sql(table: Table, where: tuple[str, ...], after: bool, first_of_pair: bool) -> str:
    unknown = [c for c in where if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {unknown[0]}")
    conds = [f'"{c}" = ?' for c in where]
    if after:
        conds.append("id < ?")
    if first_of_pair:
        conds.append(_FIRST_OF_PAIR)
    filters = f" WHERE {' AND '.join(conds)}" if conds else ""
    # Only our own table and column names are spliced in; every value is bound.
    return f'{_COLUMNS} FROM "{table.name}"{filters} ORDER BY id DESC LIMIT ?'


def _record(collection: Nsid, row: Sequence[Any]) -> IndexedRecord:
    _, uri, cid, repo, rkey, body, indexed_at = row
    if isinstance(indexed_at, str):  # SQLite keeps the UTC wall clock as text
        # (the offset parsed along: a fifth of the cost of .replace(tzinfo=UTC) afterwards)
        indexed_at = datetime.fromisoformat(indexed_at + "+00:00")
    return IndexedRecord(uri, cid, collection, repo, rkey, bytes(body), indexed_at)


def _page(collection: Nsid, rows: Sequence[Sequence[Any]], limit: int) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(int(rows[-1][0])) if more and rows else None
    return Page([_record(collection, r) for r in rows], cursor)
