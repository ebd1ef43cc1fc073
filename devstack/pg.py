"""A local PostgreSQL cluster on 127.0.0.1 (`make up DB=postgres`), and the helpers the test
suite's throwaway clusters share: finding the binaries and running them as `postgres`."""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import shutil
import subprocess
from pathlib import Path

import asyncpg

SERVER_USER = "postgres"  # the server refuses to run as root
INITDB_FLAGS = ("-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")


class ClusterError(Exception):
    """A cluster could not be created, started or stopped; the message says why."""


def find_bindir() -> Path:
    candidates = []
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise ClusterError("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")


def as_server_user(argv: list[str | Path]) -> list[str]:
    """The command to run `argv` as the postgres user when we are root (the server refuses root)."""
    args = [str(a) for a in argv]
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *args]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", shlex.join(args)]


def hand_to_server_user(root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterError("running as root, and no 'postgres' user to run the server") from None
    os.chown(root, user.pw_uid, user.pw_gid)


def run(argv: list[str | Path], cwd: Path) -> None:
    # A new session keeps Ctrl-C from reaching the postmaster; its owner stops it itself.
    done = subprocess.run(  # noqa: S603 - the PostgreSQL binaries with our arguments
        as_server_user(argv), cwd=cwd, capture_output=True, text=True, timeout=60,
        check=False, start_new_session=True,
    )  # fmt: skip
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ClusterError(f"{Path(argv[0]).name} failed ({done.returncode}): {tail}")


def start_local(root: Path, port: int) -> str:
    """initdb `root/data` once, start it on 127.0.0.1:`port`; the admin URL."""
    bindir = find_bindir()
    root.mkdir(parents=True, exist_ok=True)
    hand_to_server_user(root)
    data = root / "data"
    if not (data / "PG_VERSION").exists():
        run([bindir / "initdb", "-D", data, *INITDB_FLAGS], root)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    run([bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60",
         "-o", options, "start"], root)  # fmt: skip
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"


def stop_local(root: Path) -> bool:
    """Stop the cluster in `root/data` if it runs; whether it did."""
    data = root / "data"
    if not (data / "postmaster.pid").exists():
        return False
    run([find_bindir() / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"], root)
    return True


def create_databases(admin_url: str, names: list[str]) -> None:
    """CREATE DATABASE for each name that does not exist yet."""

    async def create() -> None:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            have = {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
            for name in names:
                if name not in have:
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
