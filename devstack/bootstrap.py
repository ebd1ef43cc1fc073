"""The dev accounts: a requester and a provider on the local PDS, their keys and logins.

Passwords are random per run and kept in `var/stack/accounts.json` (owner-only); the
exchange creates its own account when it starts.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from cocore.atproto import AtprotoClient

from .layout import EXCHANGE_HANDLE, Layout


@dataclass(frozen=True, slots=True)
class DevAccount:
    handle: str
    did: str
    password: str


@dataclass(frozen=True, slots=True)
class Accounts:
    requester: DevAccount
    provider: DevAccount
    exchange_did: str
    api_key: str


async def create_account(lay: Layout, handle: str) -> DevAccount:
    password = secrets.token_urlsafe(18)
    email = handle.partition(".")[0] + "@example.com"
    client = await AtprotoClient.signup(lay.url("pds"), handle, email, password)
    async with client:
        return DevAccount(handle, str(client.did), password)


async def exchange_did(lay: Layout, handle: str = EXCHANGE_HANDLE) -> str:
    async with httpx.AsyncClient(base_url=lay.url("pds"), timeout=10) as http:
        r = await http.get("/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle})
        r.raise_for_status()
        return str(r.json()["did"])


def init_provider(lay: Layout, account: DevAccount, exchange: str) -> None:
    """`cocore-provider init` then `login`, exactly as a Mac owner would run them."""
    exe = str(Path(sys.executable).parent / "cocore-provider")
    env = {**os.environ, "COCORE_PROVIDER_HOME": str(lay.provider_home)}
    init = [exe, "init", "--matchmaker", lay.address("matchmaker"), "--exchange-did",
            exchange, "--plc-url", lay.url("plc"), "--models-dir", str(lay.models),
            "--model", lay.model_id, "--slots", "4", "--machine-label", "dev-machine"]  # fmt: skip
    login = [exe, "login", account.handle, "--pds", lay.url("pds"), "--password-stdin"]
    with lay.log("bootstrap").open("ab") as out:
        subprocess.run(init, env=env, check=True, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        subprocess.run(login, env=env, check=True, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                       input=(account.password + "\n").encode())  # fmt: skip


async def requester_key(lay: Layout, account: DevAccount) -> str:
    """Store the requester's login with the gateway (it mints an API key), accept the terms."""
    async with httpx.AsyncClient(base_url=lay.url("gateway_http"), timeout=30) as http:
        r = await http.post("/v1/account/login", json={"identifier": account.handle,
                                                       "password": account.password})  # fmt: skip
        r.raise_for_status()
        key = str(r.json()["secret"])
        r = await http.post("/v1/account/accept-terms", json={},
                            headers={"authorization": f"Bearer {key}"})  # fmt: skip
        r.raise_for_status()
        return key


def save(lay: Layout, accounts: Accounts) -> None:
    fd = os.open(lay.accounts_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(accounts), f, indent=1)


def load(lay: Layout) -> Accounts:
    raw = json.loads(lay.accounts_file.read_text())
    return Accounts(DevAccount(**raw["requester"]), DevAccount(**raw["provider"]),
                    raw["exchange_did"], raw["api_key"])  # fmt: skip
