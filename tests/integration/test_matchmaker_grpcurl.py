"""What an operator sees with grpcurl: the services by reflection, and ListProviders."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.matchmaker.server import MatchmakerService
from tests.conftest import REPO
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import TOKEN, Machine, make_machine, matchmaker_config, running_matchmaker

pytestmark = pytest.mark.pds


@pytest.fixture(scope="module")
def grpcurl_bin() -> str:
    found = shutil.which("grpcurl", path=str(REPO / ".venv" / "bin")) or shutil.which("grpcurl")
    if found is None:
        pytest.fail("grpcurl is not installed: run `make grpcurl`")
    return found


async def grpcurl(binary: str, address: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        binary, "-plaintext", "-max-time", "10", *args[:-1], address, args[-1],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def served(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> AsyncIterator[tuple[MatchmakerService, Machine]]:
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp_path / "mm.sqlite")) as s:
        m = await make_machine(atproto_stack, s.address, machine_id="studio")
        m.start()
        await m.wait_registered()
        yield s, m
        await m.stop()


async def test_grpcurl_lists_the_services_and_calls_list_providers(
    grpcurl_bin: str, served: tuple[MatchmakerService, Machine]
) -> None:
    service, machine = served
    code, out, err = await grpcurl(grpcurl_bin, service.address, "list")
    assert code == 0, err
    assert {"cocore.matchmaker.v1.Matchmaker", "cocore.matchmaker.v1.ProviderLink"} <= set(
        out.split()
    )
    auth = ["-H", f"authorization: Bearer {TOKEN}"]
    method = "cocore.matchmaker.v1.Matchmaker/ListProviders"
    code, out, err = await grpcurl(grpcurl_bin, service.address, *auth, "-d", "{}", method)
    assert code == 0, err
    (row,) = json.loads(out)["providers"]
    assert row["did"] == machine.did and row["machine_id"] == "studio", row
    assert row["slots"] == 2 and row["free_slots"] == 2 and row["models"][0]["id"] == "tiny-echo"
    code, out, err = await grpcurl(grpcurl_bin, service.address, "-d", "{}", method)
    assert code != 0 and "Unauthenticated" in err
