"""`cocore canonical | tid | cid | keys new`: the building blocks of records."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cocore.canonical import canonicalize, loads_strict
from cocore.errors import InvalidInput
from cocore.keystore import KeyDir
from cocore.syntax import next_tid, record_cid

Commands = Any  # argparse's private _SubParsersAction


def register(commands: Commands) -> None:
    canonical = commands.add_parser("canonical", help="JSON on stdin -> canonical bytes on stdout")
    canonical.set_defaults(run=_canonical)
    tid = commands.add_parser("tid", help="print a fresh TID")
    tid.set_defaults(run=_tid)
    cid = commands.add_parser("cid", help="print the CID a PDS gives a JSON record")
    cid.add_argument("file", help="record JSON file, or - for stdin")
    cid.set_defaults(run=_cid)
    keys = commands.add_parser("keys", help="key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    new = key_commands.add_parser("new", help="create a signing + encryption key pair in DIR")
    new.add_argument("dir", type=Path)
    new.set_defaults(run=_keys_new)


def read_input(name: str) -> bytes:
    return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()


def _canonical(_args: argparse.Namespace) -> int:
    sys.stdout.buffer.write(canonicalize(loads_strict(sys.stdin.buffer.read())))
    sys.stdout.flush()
    return 0


def _tid(_args: argparse.Namespace) -> int:
    print(next_tid())
    return 0


def _cid(args: argparse.Namespace) -> int:
    record = loads_strict(read_input(args.file))
    if not isinstance(record, dict):
        raise InvalidInput("a record must be a JSON object")
    print(record_cid(record))
    return 0


def _keys_new(args: argparse.Namespace) -> int:
    keys = KeyDir.create(args.dir)
    print(json.dumps(keys.public_summary(), indent=2))
    return 0
