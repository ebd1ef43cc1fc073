"""The provider directory in the database: who owns which stream, leased and renewed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from cocore.storage import Database

from .db import DirectoryRow
from .pool import ProviderKey


@dataclass(frozen=True, slots=True)
class RemoteRow:
    did: str
    machine_id: str
    replica_id: str
    address: str
    snapshot: dict[str, Any]

    @property
    def key(self) -> ProviderKey:
        return (self.did, self.machine_id)


class ProviderDirectory:
    """This replica's view of the shared table; every write is fenced by `replica_id`."""

    def __init__(
        self, db: Database, replica_id: str, lease_s: float, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self.replica_id = replica_id
        self.address = ""  # set once the server is bound
        self._lease = timedelta(seconds=lease_s)
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def claim(self, snapshots: dict[ProviderKey, dict[str, Any]]) -> None:
        """Machines that just connected here: the newest stream wins, whoever held it before."""
        if not snapshots:
            return
        now = self._now()
        rows = [
            {"did": did, "machine_id": machine, "replica_id": self.replica_id,
             "address": self.address, "lease_expires_at": now + self._lease,
             "snapshot": snapshot, "updated_at": now}
            for (did, machine), snapshot in snapshots.items()
        ]  # fmt: skip
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = insert(DirectoryRow)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["did", "machine_id"],
            set_={name: getattr(excluded, name) for name in
                  ("replica_id", "address", "lease_expires_at", "snapshot", "updated_at")},
        )  # fmt: skip
        async with self._db.transaction() as session:
            await session.execute(statement, rows)

    async def refresh(self, snapshots: dict[ProviderKey, dict[str, Any]]) -> None:
        """New snapshots for machines this replica still owns (never steals one back)."""
        if not snapshots:
            return
        table = DirectoryRow.__table__
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(
                table.c.did == bindparam("k_did"),
                table.c.machine_id == bindparam("k_machine"),
                table.c.replica_id == self.replica_id,
            )
            .values(snapshot=bindparam("snapshot"), updated_at=self._now())
        )
        rows = [
            {"k_did": did, "k_machine": machine, "snapshot": snapshot}
            for (did, machine), snapshot in snapshots.items()
        ]
        async with self._db.transaction() as session:
            await session.execute(statement, rows)

    async def renew(self) -> set[ProviderKey]:
        """Extend this replica's leases; returns the machines it still owns."""
        statement = (
            update(DirectoryRow)
            .where(DirectoryRow.replica_id == self.replica_id)
            .values(lease_expires_at=self._now() + self._lease)
            .returning(DirectoryRow.did, DirectoryRow.machine_id)
        )
        async with self._db.transaction() as session:
            result = await session.execute(statement)
            return {(row.did, row.machine_id) for row in result}

    async def withdraw(self, keys: Iterable[ProviderKey]) -> None:
        batch = list(keys)
        if not batch:
            return
        statement = delete(DirectoryRow).where(
            DirectoryRow.replica_id == self.replica_id,
            tuple_(DirectoryRow.did, DirectoryRow.machine_id).in_(batch),
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def withdraw_all(self) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(DirectoryRow).where(DirectoryRow.replica_id == self.replica_id)
            )

    async def others(self) -> list[RemoteRow]:
        """Live rows of the other replicas."""
        statement = select(DirectoryRow).where(
            DirectoryRow.replica_id != self.replica_id, DirectoryRow.lease_expires_at > self._now()
        )
        async with self._db.session() as session:
            rows = (await session.execute(statement)).scalars().all()
        return [RemoteRow(r.did, r.machine_id, r.replica_id, r.address, r.snapshot) for r in rows]

    async def owner_of(self, key: ProviderKey) -> str | None:
        """The address of the replica holding `key`'s stream, if another live one does."""
        statement = select(DirectoryRow.address).where(
            and_(
                DirectoryRow.did == key[0],
                DirectoryRow.machine_id == key[1],
                DirectoryRow.replica_id != self.replica_id,
                DirectoryRow.lease_expires_at > self._now(),
            )
        )
        async with self._db.session() as session:
            address = (await session.execute(statement)).scalar_one_or_none()
        return address or None
