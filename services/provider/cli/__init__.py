"""`cocore-provider`: run a cocore provider on this machine.

    cocore-provider init [--matchmaker HOST:PORT] [--exchange-did DID] …   keys and config, once
    cocore-provider login HANDLE --pds URL                                 store PDS credentials
    cocore-provider serve                                                  serve until SIGTERM
    cocore-provider status | doctor                                        what it does / why not
    cocore-provider models list | tiny DIR | convert [DIR]                 model directories

Exit codes: 0 success, 1 a failed check (doctor) or a serve that stopped on an error,
2 bad input or usage (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cocore.errors import CocoreError

from . import models, serve, setup
from .output import out

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cocore-provider", description="Run a cocore compute provider on this machine."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    setup.register(commands)
    serve.register(commands)
    models.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CocoreError as e:
        out(f"cocore-provider: {e.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        out(f"cocore-provider: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
