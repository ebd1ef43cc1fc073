"""`cocore account …`: sign in through a gateway, manage API keys, accept terms, wipe, export.

    cocore account login --identifier alice.example --gateway http://127.0.0.1:2596
    cocore account keys list | create NAME | revoke ID | delete ID
    cocore account accept-terms
    cocore account wipe --yes          # every dev.cocore.* record, every key, the stored login
    cocore account export --out repo.car

The login (gateway URL, DID, PDS, API key) is kept in ~/.config/cocore/account.json (0600),
or in $COCORE_ACCOUNT_FILE. The app password comes from --password, $COCORE_APP_PASSWORD or
a prompt, and is never written to disk by this tool.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
from pathlib import Path
from typing import Any

import httpx

from cocore.atproto import AtprotoClient, Delete, XrpcClient, resolve_handle
from cocore.errors import CocoreError, InvalidInput
from cocore.lexicon import ids
from cocore.syntax import parse_did, parse_handle, parse_nsid, parse_record_key

Commands = Any
OURS = "dev.cocore."
DELETE_BATCH = 100  # applyWrites takes at most 200 writes


class GatewayRefused(CocoreError):
    default_code = "gateway_refused"


def register(commands: Commands) -> None:
    account = commands.add_parser("account", help="sign in, API keys, terms, wipe, export")
    account.add_argument("--config", type=Path, default=None, help="where the login is kept")
    sub = account.add_subparsers(dest="account_command", required=True, metavar="COMMAND")
    login = sub.add_parser("login", help="store an app-password login with a gateway; mint a key")
    login.add_argument("--identifier", required=True, help="handle or DID")
    login.add_argument("--password", help="app password (or $COCORE_APP_PASSWORD, or a prompt)")
    login.add_argument("--gateway", required=True, help="gateway URL")
    login.add_argument("--pds", help="PDS that resolves the handle (default: the gateway's)")
    login.set_defaults(run=_login)
    keys = sub.add_parser("keys", help="list, create, revoke or delete API keys")
    keys.add_argument("action", choices=["list", "create", "revoke", "delete"])
    keys.add_argument("target", nargs="?", help="the new key's name, or the key id")
    keys.add_argument("--requests-per-minute", type=int)
    keys.add_argument("--tokens-per-minute", type=int)
    keys.add_argument("--budget", type=int)
    keys.add_argument("--expires-at", help="RFC 3339")
    keys.set_defaults(run=_keys)
    sub.add_parser("status", help="balance and terms").set_defaults(run=_status)
    sub.add_parser("accept-terms", help="accept the exchange's terms").set_defaults(run=_terms)
    wipe = sub.add_parser("wipe", help="delete every dev.cocore.* record, key and stored login")
    wipe.add_argument("--password", help="app password (or $COCORE_APP_PASSWORD, or a prompt)")
    wipe.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    wipe.set_defaults(run=_wipe)
    export = sub.add_parser("export", help="save the account's repo (CAR) from its PDS")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(run=_export)


# ------------------------------------------------------------ the stored login


def config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get("COCORE_ACCOUNT_FILE")
    return Path(env) if env else Path.home() / ".config" / "cocore" / "account.json"


def _load(args: argparse.Namespace) -> dict[str, str]:
    path = config_path(args)
    if not path.exists():
        raise InvalidInput(f"not signed in ({path} is missing): run `cocore account login`")
    stored: dict[str, str] = json.loads(path.read_text())
    return stored


def _save(args: argparse.Namespace, values: dict[str, str]) -> None:
    path = config_path(args)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f, indent=2)


def _password(args: argparse.Namespace) -> str:
    value = args.password or os.environ.get("COCORE_APP_PASSWORD")
    return value or getpass.getpass("app password: ")


def _call(stored: dict[str, str], method: str, path: str, body: Any = None) -> Any:
    headers = {"authorization": f"Bearer {stored['key']}"} if stored.get("key") else {}
    response = httpx.request(method, stored["gateway"].rstrip("/") + path, json=body,
                             headers=headers, timeout=60)  # fmt: skip
    payload = response.json() if response.content else {}
    if response.status_code >= 400:
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else payload.get("message")
        raise GatewayRefused(f"gateway: {response.status_code} {message or response.text[:200]}")
    return payload


def _print(value: Any) -> int:
    print(json.dumps(value, indent=2, sort_keys=True))
    return 0


# ------------------------------------------------------------ commands


def _login(args: argparse.Namespace) -> int:
    identifier = args.identifier
    if args.pds and not identifier.startswith("did:"):
        identifier = asyncio.run(_resolve(args.pds, identifier))
    gateway = args.gateway.rstrip("/")
    result = _call({"gateway": gateway}, "POST", "/v1/account/login",
                   {"identifier": identifier, "password": _password(args)})  # fmt: skip
    _save(args, {"gateway": gateway, "did": result["did"], "handle": result["handle"],
                 "pds": result["pds"], "key": result["secret"],
                 "key_id": result["key"]["id"]})  # fmt: skip
    return _print({"did": result["did"], "handle": result["handle"],
                   "key": result["key"]["prefix"] + "…",
                   "saved": str(config_path(args))})  # fmt: skip


async def _resolve(pds: str, handle: str) -> str:
    xrpc = XrpcClient(pds)
    try:
        return str(await resolve_handle(xrpc, parse_handle(handle)))
    finally:
        await xrpc.aclose()


def _keys(args: argparse.Namespace) -> int:
    stored = _load(args)
    if args.action == "list":
        return _print(_call(stored, "GET", f"/xrpc/{ids.ACCOUNT_LIST_API_KEYS}"))
    if not args.target:
        raise InvalidInput(
            f"`keys {args.action}` needs a {'name' if args.action == 'create' else 'key id'}"
        )
    if args.action == "create":
        body: dict[str, Any] = {"name": args.target}
        for field, value in (("requestsPerMinute", args.requests_per_minute),
                             ("tokensPerMinute", args.tokens_per_minute),
                             ("budget", args.budget), ("expiresAt", args.expires_at)):  # fmt: skip
            if value is not None:
                body[field] = value
        return _print(_call(stored, "POST", f"/xrpc/{ids.ACCOUNT_CREATE_API_KEY}", body))
    method = ids.ACCOUNT_REVOKE_API_KEY if args.action == "revoke" else ids.ACCOUNT_DELETE_API_KEY
    return _print(_call(stored, "POST", f"/xrpc/{method}", {"id": args.target}))


def _status(args: argparse.Namespace) -> int:
    return _print(_call(_load(args), "GET", "/v1/account"))


def _terms(args: argparse.Namespace) -> int:
    return _print(_call(_load(args), "POST", "/v1/account/accept-terms",
                        {"userAgent": "cocore-cli"}))  # fmt: skip


def _wipe(args: argparse.Namespace) -> int:
    stored = _load(args)
    if (
        not args.yes
        and input(f"delete every dev.cocore.* record of {stored['did']}? [y/N] ") != "y"
    ):
        return 1
    password = _password(args)
    pds = _pds_of(stored)
    # The gateway first (no new records get queued), then the records in the user's repo.
    gateway = _call(stored, "POST", "/v1/account/wipe", {})
    deleted = asyncio.run(delete_cocore_records(pds, stored["did"], password))
    config_path(args).unlink(missing_ok=True)
    return _print({"recordsDeleted": deleted, **gateway})


def _pds_of(stored: dict[str, str]) -> str:
    if not stored.get("pds"):
        raise InvalidInput("the stored login names no PDS: run `cocore account login` again")
    return stored["pds"]


async def delete_cocore_records(pds: str, did: str, password: str) -> int:
    """Delete every record in a `dev.cocore.*` collection of the account's repo."""
    client = await AtprotoClient.login(pds, did, password)
    try:
        collections = (await client.describe_repo(parse_did(did))).collections
        deleted = 0
        for collection in sorted(c for c in collections if str(c).startswith(OURS)):
            nsid = parse_nsid(str(collection))
            rkeys = [str(v.uri.rkey) async for v in client.iter_records(client.did, nsid)]
            for start in range(0, len(rkeys), DELETE_BATCH):
                batch = rkeys[start : start + DELETE_BATCH]
                await client.apply_writes([Delete(nsid, parse_record_key(k)) for k in batch])
                deleted += len(batch)
        return deleted
    finally:
        await client.aclose()


def _export(args: argparse.Namespace) -> int:
    stored = _load(args)
    pds = _pds_of(stored)

    async def fetch() -> bytes:
        client = AtprotoClient.anonymous(pds)
        try:
            return await client.get_repo(parse_did(stored["did"]))
        finally:
            await client.aclose()

    car = asyncio.run(fetch())
    args.out.write_bytes(car)
    return _print({"did": stored["did"], "bytes": len(car), "out": str(args.out)})
