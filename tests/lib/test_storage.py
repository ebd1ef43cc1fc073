"""cocore.storage against real SQLite and real PostgreSQL: engines, types, errors, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, ForeignKey, String, func, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cocore.errors import AlreadyExists, FailedPrecondition, InvalidInput, Unavailable
from cocore.storage import (
    TYPE_ANNOTATION_MAP,
    BigIntPk,
    ConstraintViolation,
    Database,
    DatabaseUnavailable,
    DuplicateKey,
    InvalidColumnValue,
    InvalidDatabaseUrl,
    PoolExhausted,
    StorageError,
    TransactionConflict,
    create_engine,
    create_loop_sqlite_engine,
    make_metadata,
    sqlite_url,
)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    did: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class Entry(Base):
    __tablename__ = "entry"
    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("account.id"))
    body: Mapped[dict[str, Any] | None]


class Counter(Base):
    __tablename__ = "counter"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int]


NOW = datetime(2026, 5, 7, 12, 0, 3, 123456, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    async with Database.from_url(db_url) as database:
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield database


async def _add_account(db: Database, did: str, created_at: datetime = NOW) -> int:
    async with db.transaction() as session:
        account = Account(did=did, created_at=created_at)
        session.add(account)
        await session.flush()
        return account.id


# ---------------------------------------------------------------- engines


async def test_engine_applies_backend_settings(db: Database, db_url: str) -> None:
    await db.ping()
    assert db.dialect == ("postgresql" if "asyncpg" in db_url else "sqlite")
    async with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            pragmas = ["foreign_keys", "journal_mode", "synchronous", "busy_timeout"]
            got = [(await conn.exec_driver_sql(f"PRAGMA {p}")).scalar() for p in pragmas]
            assert got == [1, "wal", 1, 5000]  # synchronous 1 = NORMAL
        else:
            assert (await conn.exec_driver_sql("SHOW TimeZone")).scalar() == "UTC"


async def test_in_memory_sqlite_is_one_database_shared_by_all_sessions() -> None:
    async with Database.from_url("sqlite+aiosqlite:///:memory:") as db:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await _add_account(db, "did:plc:alice")
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Account)) == 1


def test_sqlite_url_is_absolute_and_async(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "x.db")
    assert url == f"sqlite+aiosqlite:///{tmp_path}/x.db"
    assert sqlite_url(":memory:") == "sqlite+aiosqlite:///:memory:"


async def test_sqlite_creates_the_missing_parent_folder(tmp_path: Path) -> None:
    async with Database.from_url(sqlite_url(tmp_path / "var" / "svc.db")) as db:
        await db.ping()
    assert (tmp_path / "var" / "svc.db").exists()


# ---------------------------------------------------------------- column types


@pytest.mark.parametrize(
    "moment",
    [
        NOW,
        NOW.astimezone(timezone(timedelta(hours=-7))),
        NOW.astimezone(timezone(timedelta(hours=5, minutes=30))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
    ids=["utc", "minus-7h", "plus-5h30", "before-epoch", "year-9999"],
)
async def test_utc_datetime_round_trips_as_aware_utc(db: Database, moment: datetime) -> None:
    account_id = await _add_account(db, "did:plc:alice", moment)
    async with db.session() as session:
        got = await session.scalar(select(Account.created_at).where(Account.id == account_id))
    assert got == moment  # the same instant, to the microsecond
    assert got is not None and got.tzinfo is UTC


async def test_utc_datetime_compares_instants_not_wall_clocks(db: Database) -> None:
    # 10:00-07:00 is later than 12:00Z; comparing text with offsets would get this wrong.
    later = datetime(2026, 5, 7, 10, 0, tzinfo=timezone(timedelta(hours=-7)))
    await _add_account(db, "did:plc:early", datetime(2026, 5, 7, 12, 0, tzinfo=UTC))
    await _add_account(db, "did:plc:late", later)
    async with db.session() as session:
        query = select(Account.did).where(Account.created_at > datetime(2026, 5, 7, 13, tzinfo=UTC))
        assert (await session.scalars(query)).all() == ["did:plc:late"]


@pytest.mark.parametrize("bad", [datetime(2026, 5, 7, 12, 0), "2026-05-07T12:00:00Z"])
async def test_utc_datetime_refuses_naive_and_non_datetimes(db: Database, bad: Any) -> None:
    with pytest.raises(InvalidColumnValue) as caught:
        await _add_account(db, "did:plc:alice", bad)
    assert isinstance(caught.value, InvalidInput)
    assert "naive" in str(caught.value) or "expected an aware datetime" in str(caught.value)
    async with db.session() as session:  # nothing was written
        assert await session.scalar(select(func.count()).select_from(Account)) == 0


async def test_big_int_pk_autoincrements_and_holds_64_bits(db: Database) -> None:
    ids = [await _add_account(db, f"did:plc:{n}") for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    async with db.transaction() as session:
        session.add(Account(id=2**62, did="did:plc:big", created_at=NOW))
    async with db.session() as session:
        assert await session.scalar(select(Account.did).where(Account.id == 2**62)) == "did:plc:big"


async def test_json_is_stored_compact_and_round_trips(db: Database) -> None:
    body = {"z": [1, 2.5, None, True], "a": {"ünï": "ok", "n": 2**70}, "m": ""}
    account_id = await _add_account(db, "did:plc:alice")
    async with db.transaction() as session:
        session.add_all([Entry(account_id=account_id, body=body), Entry(account_id=account_id)])
        session.add(Entry(account_id=account_id, body=JSON.NULL))  # JSON null, not SQL NULL
    async with db.session() as session:
        bodies = (await session.scalars(select(Entry.body).order_by(Entry.id))).all()
        assert bodies == [body, None, None]
        nulls = select(func.count()).select_from(Entry).where(Entry.body.is_(None))
        assert await session.scalar(nulls) == 1
        if db.dialect == "sqlite":
            stored = await session.scalar(text("SELECT body FROM entry ORDER BY id LIMIT 1"))
            assert (
                stored
                == '{"a":{"n":1180591620717411303424,"ünï":"ok"},"m":"","z":[1,2.5,null,true]}'
            )
        else:
            kind = "SELECT data_type FROM information_schema.columns WHERE column_name = 'body'"
            assert await session.scalar(text(kind)) == "jsonb"


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {1: "int key"}, {"x": object()}])
async def test_json_refuses_what_would_not_come_back_the_same(db: Database, bad: Any) -> None:
    account_id = await _add_account(db, "did:plc:alice")
    with pytest.raises(InvalidColumnValue, match="JSON"):
        async with db.transaction() as session:
            session.add(Entry(account_id=account_id, body=bad))


# ---------------------------------------------------------------- errors from the database


async def test_unique_violation_is_duplicate_key(db: Database) -> None:
    await _add_account(db, "did:plc:alice")
    with pytest.raises(DuplicateKey) as caught:
        await _add_account(db, "did:plc:alice")
    error = caught.value
    assert isinstance(error, AlreadyExists) and isinstance(error, StorageError)
    assert error.code == "duplicate_key"
    assert "did" in str(error) and "\n" not in str(error)
    expected = "uq_account_did" if db.dialect == "postgresql" else "account.did"
    assert error.details == {"constraint": expected}


async def test_foreign_keys_are_enforced_on_both_backends(db: Database) -> None:
    with pytest.raises(ConstraintViolation) as caught:
        async with db.transaction() as session:
            session.add(Entry(account_id=424242, body={}))
    assert isinstance(caught.value, FailedPrecondition)


async def test_errors_can_be_caught_inside_the_block(db: Database) -> None:
    # handle_error translates at the driver call, so the error is typed where it happens.
    await _add_account(db, "did:plc:alice")
    async with db.session() as session:
        session.add(Account(did="did:plc:alice", created_at=NOW))
        with pytest.raises(DuplicateKey):
            await session.flush()
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(Account)) == 1


# ---------------------------------------------------------------- transactions


async def test_transaction_rolls_back_when_the_block_raises(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.transaction() as session:
            session.add(Account(did="did:plc:ghost", created_at=NOW))
            await session.flush()  # the row reached the database inside the transaction
            raise Boom
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0


async def test_session_without_commit_keeps_nothing(db: Database) -> None:
    async with db.session() as session:
        session.add(Account(did="did:plc:ghost", created_at=NOW))
        await session.flush()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0


async def test_concurrent_read_modify_write_transactions_neither_deadlock_nor_lose_updates(
    db: Database,
) -> None:
    async with db.transaction() as session:
        session.add(Counter(name="hits", value=0))

    async def increment() -> None:
        async with db.transaction() as session:
            # Read, yield to the other tasks, then write: the classic lost-update/deadlock shape.
            query = select(Counter.value).where(Counter.name == "hits").with_for_update()
            value = await session.scalar(query)
            await asyncio.sleep(0)
            await session.execute(update(Counter).values(value=(value or 0) + 1))

    await asyncio.wait_for(asyncio.gather(*(increment() for _ in range(20))), timeout=60)
    async with db.session() as session:
        assert await session.scalar(select(Counter.value)) == 20


async def test_sqlite_writer_blocked_past_busy_timeout_gets_transaction_conflict(
    sqlite_db_url: str,
) -> None:
    async with Database.from_url(sqlite_db_url, sqlite_busy_timeout_ms=100) as db:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_write_lock() -> None:
            async with db.transaction() as session:
                session.add(Counter(name="held", value=1))
                await session.flush()
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold_the_write_lock())
        await holding.wait()
        try:
            with pytest.raises(TransactionConflict) as caught:
                async with db.transaction() as session:
                    session.add(Counter(name="blocked", value=1))
            assert isinstance(caught.value, Unavailable)
        finally:
            release.set()
            await holder


def _write_lock_is_free(path: Path) -> bool:
    """Whether another connection gets the write lock at once."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


async def test_a_discarded_sqlite_connection_leaves_no_write_lock(tmp_path: Path) -> None:
    """The pool discards a connection mid-transaction (as when cancellation cuts a statement
    off) while a cursor of it is still held: the write lock goes with the connection, not
    when the cursor is collected."""
    path = tmp_path / "discard.db"
    async with Database.from_url(sqlite_url(path)) as db:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # begins the transaction
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            cursor = await driver.executemany("INSERT INTO t VALUES (?)", [(1,)])
            assert not _write_lock_is_free(path)  # the test holds what it means to
            await conn.invalidate()
            assert _write_lock_is_free(path)
        assert cursor is not None  # still held here


def test_a_discarded_loop_sqlite_connection_leaves_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "discard-loop.db"
    engine = create_loop_sqlite_engine(path)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany("INSERT INTO t VALUES (?)", [(1,)])
            assert not _write_lock_is_free(path)
            conn.invalidate()
            assert _write_lock_is_free(path)
        assert cursor is not None
    finally:
        engine.dispose()


async def test_pool_exhaustion_is_a_storage_error(sqlite_db_url: str) -> None:
    async with (
        Database.from_url(sqlite_db_url, pool_size=1, max_overflow=0, pool_timeout_s=0.2) as db,
        db.session() as first,
    ):
        await first.execute(text("SELECT 1"))  # checks out the only connection
        with pytest.raises(PoolExhausted):
            async with db.session() as second:
                await second.execute(text("SELECT 1"))


# ---------------------------------------------------------------- bad URLs, unreachable servers


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql+aiomysql://u@h/db",
        "postgresql+psycopg2://u:s3cret@h/db",
        "postgresql+asyncpg://u:s3cret@127.0.0.1:5432",
        "postgresql://u@h:notaport/db",
    ],
)
def test_bad_urls_are_refused_up_front_without_leaking_passwords(url: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as caught:
        create_engine(url)
    message = str(caught.value)
    assert isinstance(caught.value, InvalidInput)
    assert "s3cret" not in message and "\n" not in message
    assert "sqlite+aiosqlite:///" in message  # says what would have worked


def test_sync_schemes_are_upgraded_to_the_async_drivers() -> None:
    assert create_engine("postgres://u@h/db").dialect.driver == "asyncpg"
    assert create_engine("sqlite://").dialect.driver == "aiosqlite"


async def _expect_unavailable(url: str, **options: Any) -> DatabaseUnavailable:
    db = Database.from_url(url, **options)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            # The guard only stops a hang from wedging the suite; the bound under test is ours.
            await asyncio.wait_for(db.ping(), timeout=30)
    finally:
        await db.dispose()
    assert "\n" not in str(caught.value)
    return caught.value


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe closes


async def test_refused_connection_is_database_unavailable() -> None:
    port = _closed_port()
    error = await _expect_unavailable(f"postgresql+asyncpg://u:s3cret@127.0.0.1:{port}/db")
    assert f"127.0.0.1:{port}" in str(error) and "s3cret" not in str(error)


async def test_silent_server_times_out_instead_of_hanging() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"postgresql+asyncpg://u@127.0.0.1:{port}/db"
        error = await _expect_unavailable(url, connect_timeout_s=0.5)
        assert "no answer within 0.5 s" in str(error)
        assert accepted  # it really connected and then waited
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.postgres
async def test_missing_postgres_database_is_database_unavailable(postgres_db_url: str) -> None:
    missing = postgres_db_url.rsplit("/", 1)[0] + "/no_such_database"
    error = await _expect_unavailable(missing)
    assert "no_such_database" in str(error)


async def test_unopenable_sqlite_file_is_database_unavailable(tmp_path: Path) -> None:
    error = await _expect_unavailable(sqlite_url(tmp_path))  # a directory, not a file
    assert "unable to open database file" in str(error)
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    error = await _expect_unavailable(sqlite_url(tmp_path / "junk.db"))
    assert "not a database" in str(error)


async def test_cancellation_is_not_turned_into_a_storage_error(db_url: str) -> None:
    """A task cancelled mid-query stops with CancelledError, whatever the driver reported."""
    import asyncio

    from cocore.storage import Database, DatabaseUnavailable

    db = Database.from_url(db_url)
    started = asyncio.Event()

    async def slow() -> None:
        async with db.transaction():
            started.set()
            try:
                await asyncio.sleep(10)
            finally:
                # What a driver does when its in-flight query is interrupted.
                raise DatabaseUnavailable("database connection lost: cancelled")

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the task finished instead of being cancelled")
    assert task.cancelled()
    await db.dispose()
