"""`init` (home, keys once, config) and `login` (PDS credentials, encrypted at rest)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

from cocore.atproto import AtprotoClient, AtprotoError
from cocore.errors import InvalidInput, Unauthenticated

from .. import credentials
from ..config import ProviderConfig, home_dir, normalise, read_file, write_file
from ..home import Home
from ..host import measure
from .output import out

Commands = Any  # argparse's private _SubParsersAction
INIT_FLAGS = {
    "matchmaker": "HOST:PORT of the matchmaker",
    "matchmaker_did": "the matchmaker's service DID (aud of the service-auth token)",
    "exchange_did": "DID of the exchange whose tokenRate prices receipts",
    "plc_url": "PLC directory URL (resolves the exchange's DID)",
    "models_dir": "directory of mlx-lm model directories",
    "slots": "jobs each model runs at once",
    "machine_label": "the provider record's machineLabel",
    "country": "ISO 3166-1 alpha-2 code to route by (optional)",
}


def register(commands: Commands) -> None:
    init = commands.add_parser("init", help="create the home, keys (once) and config")
    for name, text in INIT_FLAGS.items():
        init.add_argument("--" + name.replace("_", "-"), dest=name, help=text)
    init.add_argument("--model", dest="models", action="append", help="a model id to serve")
    init.set_defaults(run=run_init)
    login = commands.add_parser("login", help="store the provider DID's PDS credentials")
    login.add_argument("identifier", help="handle or DID of the provider account")
    login.add_argument("--pds", required=True, help="PDS URL, e.g. http://127.0.0.1:2583")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the app password from stdin"
    )
    login.set_defaults(run=run_login)


def run_init(args: argparse.Namespace) -> int:
    home = Home(home_dir(os.environ))
    values = read_file(home.config_file)
    values.update({k: getattr(args, k) for k in (*INIT_FLAGS, "models") if getattr(args, k)})
    ProviderConfig.from_values(home.root, values)  # refuse bad values before touching anything
    keys, created = home.init()
    write_file(home.config_file, normalise(values))
    os.chmod(home.config_file, 0o600)
    out(f"{'created' if created else 'kept existing'} keys in {keys.path}")
    out(f"  signing key (attestationPubKey): {keys.signing.public_key.to_cocore_b64()}")
    out(f"  encryption key (x25519):         {keys.encryption.public_key_b64}")
    out(f"config: {home.config_file}")
    out("next: cocore-provider login HANDLE --pds URL, then cocore-provider serve")
    return 0


def run_login(args: argparse.Namespace) -> int:
    home = Home(home_dir(os.environ))
    home.keys()  # NotInitialised: run init first
    if not args.pds.startswith(("http://", "https://")):
        raise InvalidInput("--pds must be an http(s) URL")
    password = _password(args.password_stdin)
    did = asyncio.run(_check_login(args.pds, args.identifier, password))
    creds = credentials.Credentials(args.identifier, password, args.pds.rstrip("/"))
    credentials.save(home, creds, measure().machine_uuid)
    out(f"logged in as {did} at {creds.pds_url}; credentials encrypted in {home.credentials_file}")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("app password: ")
    if not password:
        raise InvalidInput("an app password is required")
    return password


async def _check_login(pds: str, identifier: str, password: str) -> str:
    """Log in once so wrong credentials are refused now, not at serve time."""
    try:
        client = await AtprotoClient.login(pds, identifier, password)
    except Unauthenticated:
        raise InvalidInput("login refused: wrong handle or app password (nothing stored)") from None
    except AtprotoError as e:
        raise InvalidInput(f"cannot log in at {pds}: {e.message} (nothing stored)") from None
    async with client:
        return str(client.did)
