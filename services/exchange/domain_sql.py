"""Loads and writes the exchange's domain rows (members, holds, settlements, …) for one batch."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from . import db
from .bulk import insert_objects, insert_rows, one_of, update_rows
from .records import OutRecord
from .state import AuthRow, Batch, HoldRow, Keys, MemberRow, RejectionRow, SettlementRow

M = db.MEMBERS
H = db.HOLDS
S = db.SETTLEMENTS
AU = db.AUTHORIZATIONS
OUTBOX = db.OUTBOX
R = db.REJECTIONS
CHUNK = 5000


async def _select_in(
    conn: AsyncConnection, query: Any, column: Any, keys: Collection[str]
) -> list[Any]:
    if not keys:
        return []
    return list((await conn.execute(query.where(one_of(conn, column, keys)))).all())


async def load_domain(conn: AsyncConnection, keys: Keys, batch: Batch) -> None:
    """Fill the batch's domain dictionaries with the rows its keys name."""
    for row in await _select_in(conn, select(M), M.c.did, keys.dids):
        batch.members[row.did] = MemberRow(
            row.did, row.granted_at, row.grant_amount, row.last_refresh_at, row.refreshes
        )
    rows = await _select_in(conn, select(H), H.c.id, keys.hold_ids)
    rows += await _select_in(conn, select(H), H.c.job_uri, keys.job_uris)
    for row in rows:
        batch.add_hold(HoldRow(row.id, row.requester, row.amount, row.job_uri, row.created_at))
    settled = select(S).where(S.c.status == "settled")
    for row in await _select_in(conn, settled, S.c.receipt_uri, keys.receipt_uris):
        batch.settlements[row.receipt_uri] = settlement_row(row)
    for row in await _select_in(conn, select(S), S.c.uri, keys.settlement_uris):
        batch.settlements_by_uri[row.uri] = settlement_row(row)
    for row in batch.settlements.values():
        batch.settlements_by_uri[row.uri] = row
    for row in await _select_in(conn, select(AU), AU.c.key, keys.auth_keys):
        batch.authorizations[row.key] = AuthRow(
            row.key, row.uri, row.scope, row.budget, row.charged, row.uses
        )


def settlement_row(row: Any) -> SettlementRow:
    return SettlementRow(**{name: getattr(row, name) for name in SettlementRow.__slots__})


async def save_domain(conn: AsyncConnection, batch: Batch) -> None:
    """Write every domain change the batch's commands made, one statement per kind."""
    await insert_objects(conn, M, list(batch.new_members.values()))
    touched = [batch.members[d] for d in sorted(batch.touched_members - set(batch.new_members))]
    await update_rows(conn, M, "did", [
        {"did": m.did, "last_refresh_at": m.last_refresh_at, "refreshes": m.refreshes}
        for m in touched
    ])  # fmt: skip
    await insert_objects(conn, H, batch.new_holds)
    await insert_objects(conn, S, batch.new_settlements)
    refunded = [{"uri": uri, "refunded_amount": total} for uri, total in batch.refunded.items()]
    await update_rows(conn, S, "uri", refunded)
    await insert_objects(conn, AU, [batch.authorizations[k] for k in sorted(batch.new_auths)])
    changed = [batch.authorizations[k] for k in sorted(batch.touched_auths - batch.new_auths)]
    charges = [{"key": a.key, "charged": a.charged, "uses": a.uses} for a in changed]
    await update_rows(conn, AU, "key", charges)
    await insert_rows(conn, OUTBOX, [outbox_row(r, batch.now) for r in batch.outbox])
    await _save_rejections(conn, batch)
    for table, values in batch.inserts:
        await conn.execute(insert(table).values(values))
    for table, key, values in batch.updates:
        where = [table.c[name] == value for name, value in key.items()]
        await conn.execute(update(table).where(*where).values(values))


async def _save_rejections(conn: AsyncConnection, batch: Batch) -> None:
    settled = [s.receipt_uri for s in batch.new_settlements if s.status == "settled"]
    if settled:
        await conn.execute(delete(R).where(one_of(conn, R.c.receipt_uri, settled)))
    for rejection in batch.rejections:
        await upsert_rejection(conn, rejection, batch.now)


async def upsert_rejection(conn: AsyncConnection, r: RejectionRow, now: datetime) -> None:
    values = {
        "receipt_uri": r.receipt_uri, "receipt_cid": r.receipt_cid, "codes": list(r.codes),
        "retryable": r.retryable, "attempts": 1, "first_seen": now, "last_seen": now,
    }  # fmt: skip
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(R).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[R.c.receipt_uri],
        set_={"receipt_cid": r.receipt_cid, "codes": list(r.codes), "retryable": r.retryable,
              "attempts": R.c.attempts + 1, "last_seen": now},
    )  # fmt: skip
    await conn.execute(stmt)


def outbox_row(record: OutRecord, now: datetime) -> dict[str, Any]:
    return {
        "collection": record.collection, "rkey": record.rkey, "uri": record.uri,
        "cid": record.cid, "record": record.text, "state": "pending",
        "attempts": 0, "next_attempt_at": now, "last_error": None, "created_at": now,
        "published_at": None, "published_cid": None,
    }  # fmt: skip
