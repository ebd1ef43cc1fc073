"""A PostgreSQL cluster for benchmarks: like the test fixture's, but durable (fsync on, on disk)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devstack.pg import find_bindir, hand_to_server_user, run
from tests.fixtures import pg_cluster as pg


class DurableCluster(pg.ThrowawayCluster):
    """The test cluster runs with fsync off on tmpfs; a speed number needs the real thing."""

    settings: tuple[str, ...] = ()

    @classmethod
    def start(cls, settings: tuple[str, ...] = ()) -> DurableCluster:
        """`settings`: extra `name=value` server settings (durability ones are not allowed)."""
        if any(s.split("=")[0] in ("fsync", "synchronous_commit", "full_page_writes")
               for s in settings):  # fmt: skip
            raise ValueError("a durable cluster keeps fsync, synchronous_commit, full_page_writes")
        bindir = find_bindir()
        cluster = cls(Path(tempfile.mkdtemp(prefix=pg._PREFIX, dir="/var/tmp")), bindir)
        cluster.settings = settings
        (cluster.root / "owner.pid").write_text(str(os.getpid()))
        try:
            hand_to_server_user(cluster.root)
            cluster._initdb()
            cluster._start_on_free_port()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_on_free_port(self) -> None:
        self.port = pg._free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        options += "".join(f" -c {s}" for s in self.settings)
        argv: list[str | Path] = [self.bindir / "pg_ctl", "-D", self.data, "-l", self.root / "log"]
        run([*argv, "-w", "-t", "60", "-o", options, "start"], cwd=self.root)
