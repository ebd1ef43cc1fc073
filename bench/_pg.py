"""A PostgreSQL cluster for benchmarks: like the test fixture's, but durable (fsync on, on disk)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.fixtures import pg_cluster as pg


class DurableCluster(pg.ThrowawayCluster):
    """The test cluster runs with fsync off on tmpfs; a speed number needs the real thing."""

    @classmethod
    def start(cls) -> DurableCluster:
        bindir = pg._find_bindir()
        cluster = cls(Path(tempfile.mkdtemp(prefix=pg._PREFIX, dir="/var/tmp")), bindir)
        (cluster.root / "owner.pid").write_text(str(os.getpid()))
        try:
            pg._hand_to_server_user(cluster.root)
            cluster._initdb()
            cluster._start_on_free_port()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_on_free_port(self) -> None:
        self.port = pg._free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        argv: list[str | Path] = [self.bindir / "pg_ctl", "-D", self.data, "-l", self.root / "log"]
        pg._run([*argv, "-w", "-t", "60", "-o", options, "start"], cwd=self.root)
