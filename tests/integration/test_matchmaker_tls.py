"""A provider registers with a matchmaker that serves TLS; a plaintext dial never does."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from cocore.rpc import ServerConfig
from tests.fixtures.atproto import AtprotoStack
from tests.fixtures.tls import self_signed

from .matchmaker_kit import make_machine, matchmaker_config, running_matchmaker

pytestmark = pytest.mark.pds


async def test_the_provider_link_over_tls(atproto_stack: AtprotoStack, tmp_path: Path) -> None:
    certs = self_signed(tmp_path / "tls")
    config = matchmaker_config(atproto_stack, tmp_path / "mm.db")
    server = ServerConfig(metrics_port=None, grace_s=1, tls_cert_file=str(certs.cert),
                          tls_key_file=str(certs.key))  # fmt: skip
    async with running_matchmaker(replace(config, server=server)) as matchmaker:
        secure = await make_machine(atproto_stack, matchmaker.address, tls=True,
                                    ca_file=str(certs.cert))  # fmt: skip
        plain = await make_machine(atproto_stack, matchmaker.address, machine_id="m2")
        secure.start()
        plain.start()
        try:
            await secure.wait_registered()
            assert secure.link.status.connected
            await asyncio.sleep(1.0)  # several dial attempts at the test backoff (0.1–0.5 s)
            assert not plain.link.status.connected
            assert plain.link.status.last_error
        finally:
            await secure.stop()
            await plain.stop()
