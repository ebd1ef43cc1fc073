"""`python -m cocore.storage.migrate <service>` on real SQLite files: the Kubernetes Job's entry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from cocore.storage import current_revision, head_revision, sqlite_url
from cocore.storage.migrate import SERVICES, main
from tests.conftest import REPO

VARIABLES = {
    "appview": "COCORE_APPVIEW_DATABASE_URL",
    "exchange": "COCORE_EXCHANGE_DB_URL",
    "gateway": "COCORE_GATEWAY_DB_URL",
    "matchmaker": "COCORE_MATCHMAKER_DATABASE_URL",
}


def test_every_service_with_a_database_is_known() -> None:
    with_migrations = {
        p.parent.name for p in (REPO / "services").glob("*/migrations") if p.is_dir()
    }
    # The provider runs on members' Macs and migrates its own database on start.
    assert set(SERVICES) == with_migrations - {"provider"} == set(VARIABLES)


@pytest.mark.parametrize("service", sorted(VARIABLES))
def test_migrates_each_service_to_head_and_is_idempotent(
    service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / f"{service}.db")
    environ = {VARIABLES[service]: url}
    head = head_revision(REPO / "services" / service / "migrations")
    assert head is not None

    assert main([service], environ) == 0
    assert asyncio.run(current_revision(url)) == head
    assert f"{service}: " in capsys.readouterr().out

    assert main([service], environ) == 0  # a second Job run changes nothing
    assert f"{head} -> {head}" in capsys.readouterr().out


def test_reads_only_its_own_variable_and_ignores_prod_secrets(tmp_path: Path) -> None:
    # Production with placeholder tokens would refuse to *serve*; the Job must still migrate.
    url = sqlite_url(tmp_path / "gw.db")
    environ = {"COCORE_GATEWAY_DB_URL": url, "COCORE_GATEWAY_ENV": "prod",
               "COCORE_GATEWAY_EXCHANGE_TOKEN": "REPLACE_ME"}  # fmt: skip
    assert main(["gateway"], environ) == 0
    assert asyncio.run(current_revision(url)) is not None


def test_a_missing_variable_is_an_error_not_a_default_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["exchange"], {"COCORE_GATEWAY_DB_URL": "sqlite:///x.db"}) == 2
    assert "COCORE_EXCHANGE_DB_URL is not set" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # no SQLite file was made in the service's default


def test_unknown_service_and_bad_url_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provider"], {}) == 2
    assert "unknown service 'provider'" in capsys.readouterr().out
    assert main(["matchmaker"], {"COCORE_MATCHMAKER_DATABASE_URL": "mysql://u@h/db"}) == 2
    assert "unsupported database URL scheme" in capsys.readouterr().out


def test_an_unreachable_database_fails_without_echoing_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql+asyncpg://exchange:hunter2-secret@127.0.0.1:1/exchange"
    assert main(["exchange"], {"COCORE_EXCHANGE_DB_URL": url}) == 1
    out = capsys.readouterr().out
    assert out.startswith("error:")
    assert "hunter2" not in out


def test_wait_returns_once_the_database_is_at_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "mm.db")
    environ = {"COCORE_MATCHMAKER_DATABASE_URL": url}
    assert main(["matchmaker", "--wait", "0"], environ) == 1  # empty: not at head, gives up
    assert "did not reach" in capsys.readouterr().out
    assert main(["matchmaker"], environ) == 0
    assert main(["matchmaker", "--wait", "0"], environ) == 0
    assert "is at" in capsys.readouterr().out.splitlines()[-1]


def test_runs_as_a_module(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "av.db")
    done = subprocess.run(
        [sys.executable, "-m", "cocore.storage.migrate", "appview"],
        env={"COCORE_APPVIEW_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert asyncio.run(current_revision(url)) == head_revision(
        REPO / "services" / "appview" / "migrations"
    )


async def test_migrates_and_waits_on_postgresql(
    postgres_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Kubernetes Jobs and init containers run against PostgreSQL; main() owns its loop.
    environ = {"COCORE_EXCHANGE_DB_URL": postgres_db_url}
    assert await asyncio.to_thread(main, ["exchange", "--wait", "0"], environ) == 1
    assert await asyncio.to_thread(main, ["exchange"], environ) == 0
    assert await asyncio.to_thread(main, ["exchange", "--wait", "0"], environ) == 0
    head = head_revision(REPO / "services" / "exchange" / "migrations")
    assert await current_revision(postgres_db_url) == head
    out = capsys.readouterr().out
    assert "at no revision, waiting for" in out and f"empty -> {head}" in out
