"""`cocore account …` against the running network: sign in, keys, terms, a paid request,
export the repo, then wipe everything (the PDS records, the keys, the stored login)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cocore.lexicon import ids
from tests.network import TINY, TestNetwork

pytestmark = pytest.mark.pds
COCORE = str(Path(sys.executable).parent / "cocore")


async def cocore(env: dict[str, str], *args: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        COCORE, "account", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def cocore_records(network: TestNetwork, did: str) -> list[str]:
    client = network.stack.anonymous()
    described = await client.describe_repo(did)  # type: ignore[arg-type]
    found = []
    for collection in described.collections:
        if str(collection).startswith("dev.cocore."):
            found += [str(v.uri) async for v in client.iter_records(did, collection)]  # type: ignore[arg-type]
    return found


async def test_the_account_lifecycle_from_the_cli(network: TestNetwork, tmp_path: Path) -> None:
    account = await network.stack.create_account()
    did = str(account.client.did)
    env = {"COCORE_ACCOUNT_FILE": str(tmp_path / "account.json"),
           "COCORE_APP_PASSWORD": account.password}  # fmt: skip
    login = await cocore(env, "login", "--identifier", account.handle, "--gateway", network.url,
                         "--pds", network.stack.pds_url)  # fmt: skip
    assert login["did"] == did
    stored = json.loads((tmp_path / "account.json").read_text())
    assert oct((tmp_path / "account.json").stat().st_mode & 0o777) == "0o600"
    assert account.password not in json.dumps(stored)
    key = stored["key"]

    terms = await cocore(env, "accept-terms")
    assert terms["termsVersion"] == "v2" and terms["uri"].startswith(f"at://{did}/")
    made = await cocore(env, "keys", "create", "second", "--requests-per-minute", "5")
    assert made["key"]["requestsPerMinute"] == 5
    listed = await cocore(env, "keys", "list")
    assert {k["name"] for k in listed["keys"]} == {"cocore cli", "second"}

    answer = await network.openai(key).chat.completions.create(
        model=TINY, messages=[{"role": "user", "content": "ka"}], max_tokens=2
    )
    job_uri = answer.model_extra["x_cocore"]["job_uri"]
    for _ in range(100):  # the outbox writes the job and its authorization
        if job_uri in await cocore_records(network, did):
            break
        await asyncio.sleep(0.1)
    mine = await cocore_records(network, did)
    assert job_uri in mine and len(mine) >= 3  # terms acceptance, authorization, job

    export = await cocore(env, "export", "--out", str(tmp_path / "repo.car"))
    car = (tmp_path / "repo.car").read_bytes()
    assert export["bytes"] == len(car) > 100

    wiped = await cocore(env, "wipe", "--yes")
    assert wiped["recordsDeleted"] == len(mine)
    assert wiped["keysDeleted"] == 2 and wiped["credentialsDeleted"] is True
    assert await cocore_records(network, did) == []
    assert await network.gateway.ctx.accounts.get(did) is None
    assert not (tmp_path / "account.json").exists()
    async with httpx.AsyncClient(base_url=network.url) as http:
        r = await http.get(f"/xrpc/{ids.ACCOUNT_LIST_API_KEYS}",
                           headers={"authorization": f"Bearer {key}"})  # fmt: skip
        assert r.status_code == 401
