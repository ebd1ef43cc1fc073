"""`python -m cocore.storage.migrate <service>`: bring one service's database to its head.

Kubernetes runs it as one Job per database (and, with `--wait`, as an init container that
holds a Deployment until the Job is done). The URL is read by the service's own config class
from the very variable the service reads, so the Job and the Deployment share one Secret.
Only that variable is passed to the config: a migration needs no tokens, and production's
placeholder-secret checks must not stop a Job that never sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cocore.errors import CocoreError, InvalidInput

from .migrations import current_revision, head_revision, upgrade
from .urls import parse_database_url, redacted

POLL_S = 2.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where a service keeps its database URL: its config class and the field holding it."""

    config_class: str
    url_field: str


SERVICES: dict[str, Target] = {
    "appview": Target("AppViewConfig", "database_url"),
    "exchange": Target("Config", "db_url"),
    "gateway": Target("GatewayConfig", "db_url"),
    "matchmaker": Target("MatchmakerConfig", "database_url"),
}


class MigrateUsageError(InvalidInput):
    default_code = "migrate_usage"


@dataclass(frozen=True, slots=True)
class Plan:
    service: str
    variable: str
    url: str
    migrations: Path


def plan(service: str, environ: Mapping[str, str]) -> Plan:
    """The service's database URL (parsed by its own config) and its migrations folder."""
    target = SERVICES.get(service)
    if target is None:
        raise MigrateUsageError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{service}.config")
    variable = str(module.PREFIX) + target.url_field.upper()
    raw = environ.get(variable, "").strip()
    if not raw:
        # Falling back to the service's default (a SQLite file) would "succeed" on the wrong
        # database; a Job with a missing Secret key must fail loudly instead.
        raise MigrateUsageError(f"{variable} is not set", details={"variable": variable})
    config = getattr(module, target.config_class).from_env({variable: raw})
    url = str(getattr(config, target.url_field))
    migrations = Path(str(module.__file__)).resolve().parent / "migrations"
    return Plan(service, variable, url, migrations)


async def migrate(target: Plan) -> tuple[str | None, str | None]:
    """Upgrade to head; (revision before, revision after)."""
    before = await current_revision(target.url)
    await upgrade(target.url, target.migrations)
    return before, await current_revision(target.url)


async def wait_for_head(target: Plan, timeout_s: float) -> str | None:
    """Poll until the database is at head (another process migrates it); the head revision."""
    head = head_revision(target.migrations)
    deadline = time.monotonic() + timeout_s
    said = ""
    while True:
        try:
            current = await current_revision(target.url)
            if current == head:
                return head
            state = f"at {current or 'no revision'}, waiting for {head}"
        except CocoreError as e:  # the database may not be up yet; keep waiting
            state = f"waiting for the database ({e.code})"
        if state != said:  # one line per change, not one per poll
            _say(f"{target.service}: {state}")
            said = state
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{target.service}: the database did not reach {head}")
        await asyncio.sleep(POLL_S)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """0: at head; 1: the migration (or the wait) failed; 2: bad usage or configuration."""
    parser = argparse.ArgumentParser(prog="python -m cocore.storage.migrate")
    parser.add_argument("service", help=f"one of {', '.join(SERVICES)}")
    parser.add_argument("--wait", type=float, metavar="SECONDS",
                        help="do not migrate: wait until something else has")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        target = plan(args.service, os.environ if environ is None else environ)
        shown = redacted(parse_database_url(target.url))
        if args.wait is not None:
            head = asyncio.run(wait_for_head(target, args.wait))
            _say(f"{target.service}: {shown} is at {head}")
            return 0
        before, after = asyncio.run(migrate(target))
    except InvalidInput as e:
        _say(f"error: {e.message}")
        return 2
    except (CocoreError, TimeoutError) as e:
        _say(f"error: {e.message if isinstance(e, CocoreError) else e}")
        return 1
    _say(f"{target.service}: {shown} {before or 'empty'} -> {after}")
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
