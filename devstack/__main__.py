"""`python -m devstack up|down|status|demo` (what `make up`, `make down`, `make demo` run)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from . import control
from .layout import Layout

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole stack on 127.0.0.1 (idempotent)")
    up.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    up.add_argument("--pg-url", default="", help="an existing PostgreSQL admin URL (DB=postgres)")
    sub.add_parser("down", help="stop exactly what `up` started")
    sub.add_parser("status", help="what runs, restarts, and where the logs are")
    sub.add_parser("demo", help="a streamed chat, then its receipt, settlement and balances")
    supervise = sub.add_parser("supervise", help=argparse.SUPPRESS)
    supervise.add_argument("--pg-url", default="")
    args = parser.parse_args(argv)
    lay = Layout.from_env(ROOT)
    if args.command == "supervise":
        # gRPC, httpx and the services load only here: `up` on a running stack stays instant.
        from .run import supervise as run_supervisor  # noqa: PLC0415

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health poll
        return asyncio.run(run_supervisor(lay, args.pg_url or None))
    if args.command == "up":
        return control.up(lay, args.db, args.pg_url or None)
    if args.command == "down":
        return control.down(lay)
    if args.command == "status":
        return control.status(lay)
    from .demo import demo  # noqa: PLC0415 - the openai client loads only for the demo

    return asyncio.run(demo(lay))


if __name__ == "__main__":
    sys.exit(main())
