"""Alembic wiring against real SQLite and PostgreSQL, using the sample service's migrations."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect

from cocore.storage import (
    MigrationError,
    StorageError,
    create_engine,
    current_revision,
    head_revision,
    make_alembic_config,
    upgrade,
)
from tests.fixtures.sample_migrations.models import Base

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample_migrations"


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(metadata: MetaData) -> Any:
    def run(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    return run


def _schema(conn: Connection) -> dict[str, Any]:
    inspector = inspect(conn)
    return {
        table: {
            "columns": [c["name"] for c in inspector.get_columns(table)],
            "unique": sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
            "fks": sorted(str(f["name"]) for f in inspector.get_foreign_keys(table)),
            "indexes": sorted(str(i["name"]) for i in inspector.get_indexes(table)),
        }
        for table in sorted(inspector.get_table_names())
    }


async def test_upgrade_to_head_and_current_revision(db_url: str) -> None:
    assert await current_revision(db_url) is None
    await upgrade(db_url, SAMPLE)
    assert await current_revision(db_url) == head_revision(SAMPLE) == "0002_entry"


async def test_upgrade_step_by_step(db_url: str) -> None:
    await upgrade(db_url, SAMPLE, "0001_account")
    assert await current_revision(db_url) == "0001_account"
    assert set(await _inspect(db_url, _schema)) == {"account", "alembic_version"}
    await upgrade(db_url, SAMPLE)
    assert await current_revision(db_url) == "0002_entry"


async def test_upgrading_twice_is_a_no_op(db_url: str) -> None:
    await upgrade(db_url, SAMPLE)
    before = await _inspect(db_url, _schema)
    await upgrade(db_url, SAMPLE)
    assert await _inspect(db_url, _schema) == before
    assert await current_revision(db_url) == "0002_entry"


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    await upgrade(db_url, SAMPLE)
    assert await _inspect(db_url, _diff(Base.metadata)) == []  # autogenerate sees nothing to do
    schema = await _inspect(db_url, _schema)
    assert schema["account"]["unique"] == ["uq_account_did", "uq_account_handle"]
    assert schema["entry"]["fks"] == ["fk_entry_account_id_account"]
    assert schema["entry"]["indexes"] == ["ix_entry_account_id"]
    assert schema["entry"]["columns"] == ["id", "account_id", "amount", "body", "recorded_at"]


async def test_diff_sees_a_table_the_migrations_lack(db_url: str) -> None:
    # Shows the comparison above can fail: models with one table more than the migrations.
    await upgrade(db_url, SAMPLE)
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    extra.tables["entry"].to_metadata(extra, name="entry_archive")
    diffs = await _inspect(db_url, _diff(extra))
    assert ("add_table", "entry_archive") in [(d[0], d[1].name) for d in diffs]


async def test_alembic_check_runs_env_py_with_its_own_engine(db_url: str) -> None:
    # command.* from sync code (a developer's shell) makes run_env build its own async engine.
    await upgrade(db_url, SAMPLE)
    await asyncio.to_thread(command.check, make_alembic_config(SAMPLE, db_url))


async def test_autogenerate_writes_a_revision_that_rebuilds_the_schema(
    db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(SAMPLE / name, folder / name)
    config = make_alembic_config(folder, db_url)
    await asyncio.to_thread(command.revision, config, message="initial", autogenerate=True)
    [written] = (folder / "versions").glob("*_initial.py")
    source = written.read_text()
    assert "import cocore.storage.types" in source
    assert "cocore.storage.types.UtcDateTime()" in source
    assert "cocore.storage.types.CompactJson()" in source
    await upgrade(db_url, folder)
    assert await _inspect(db_url, _diff(Base.metadata)) == []


def test_offline_mode_writes_postgres_sql_without_a_database() -> None:
    # (SQLite batch ALTERs must reflect the live table, so --sql cannot work there.)
    config = make_alembic_config(SAMPLE, "postgresql://u@nowhere.invalid/unused")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE account" in sql and "body JSONB NOT NULL" in sql
    assert "UPDATE alembic_version SET version_num='0002_entry'" in sql


async def test_unknown_revision_is_a_migration_error(db_url: str) -> None:
    with pytest.raises(MigrationError, match="no-such-revision"):
        await upgrade(db_url, SAMPLE, "no-such-revision")


async def test_missing_folder_is_a_migration_error(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(MigrationError):
        await upgrade(db_url, tmp_path / "nowhere")


_BROKEN = '''
"""Leaves a child row whose parent does not exist."""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    {body}
'''


async def test_failed_upgrade_leaves_the_database_untouched(db_url: str, tmp_path: Path) -> None:
    # One transaction for the whole run, on both backends: the good first step is undone too.
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    shutil.copy(SAMPLE / "env.py", folder / "env.py")
    steps = {
        "0001_tables": (
            None,
            'op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True))\n'
            '    op.create_table("child", sa.Column("id", sa.Integer, primary_key=True),'
            ' sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")))',
        ),
        "0002_orphan": ("0001_tables", 'op.execute("INSERT INTO child VALUES (1, 99)")'),
    }
    for rev, (down, body) in steps.items():
        text = _BROKEN.format(rev=rev, down=down, body=body)
        (folder / "versions" / f"{rev}.py").write_text(text)

    # SQLite defers foreign keys during migrations and checks them before commit;
    # PostgreSQL refuses the INSERT itself.
    expected = MigrationError if "sqlite" in db_url else StorageError
    with pytest.raises(expected, match=r"broken references|foreign key"):
        await upgrade(db_url, folder)
    assert await current_revision(db_url) is None
    assert await _inspect(db_url, _schema) == {}
