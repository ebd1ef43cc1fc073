"""The exchange's identity on the real PLC + PDS: account with our rotation key, and a signed PLC
update that puts the settlement key into the DID document as `#cocore_exchange`."""

from __future__ import annotations

import multiprocessing
import socket
import threading
from pathlib import Path

import pytest

from cocore.atproto import IdentityResolver, exchange_settlement_key
from cocore.atproto.keys import SigningKey as RotationKey
from cocore.atproto.plc import PlcClient, PlcOperationRefused, sign_operation, update_operation
from cocore.rpc import BindError, ServerConfig
from cocore.storage import Database, sqlite_url, upgrade
from services.exchange import identity
from services.exchange.config import Config
from services.exchange.server import MIGRATIONS, build
from tests.fixtures.atproto import AtprotoStack
from tests.tasks import tasks_running

pytestmark = pytest.mark.pds


def exchange_config(stack: AtprotoStack, tmp_path: Path, **overrides: object) -> Config:
    handle = stack.new_handle()
    values: dict[str, object] = {
        "server": ServerConfig(metrics_port=None, grace_s=1),
        "db_url": sqlite_url(tmp_path / "exchange.db"),
        "pds_url": stack.pds_url, "plc_url": stack.plc_url,
        "handle": handle, "email": f"{handle}@example.com", "key_dir": tmp_path / "keys",
    }  # fmt: skip
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]


async def test_settlement_key_is_published_in_the_did_document(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    config = exchange_config(atproto_stack, tmp_path)
    await upgrade(config.db_url, MIGRATIONS)
    async with Database.from_url(config.db_url) as database:
        keys = identity.load_keys(config)
        did = await identity.establish(config, database, keys)
        assert await identity.known_did(database) == did

        resolver = IdentityResolver(atproto_stack.plc_url)
        try:
            doc = await resolver.resolve_did(did, fresh=True)
        finally:
            await resolver.aclose()
        methods = {m["id"]: m for m in doc["verificationMethod"]}
        assert "#cocore_exchange" in methods and "#atproto" in methods
        assert exchange_settlement_key(doc) == keys.settlement.public_key

        plc = PlcClient(atproto_stack.plc_url)
        try:
            # A second start changes nothing: the key is already there.
            assert await identity.publish_settlement_key(plc, did, keys) is False
            last = await plc.last_operation(did)
            assert last["rotationKeys"][0] == keys.rotation.public.did_key
            # Nobody else can rewrite the document: an operation signed by a stranger fails.
            stranger = RotationKey.generate("ES256")
            forged = sign_operation(update_operation(last, alsoKnownAs=[]), stranger)
            with pytest.raises(PlcOperationRefused):
                await plc.submit(did, forged)
        finally:
            await plc.aclose()


async def test_a_known_did_lets_the_exchange_start_while_its_pds_is_down(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    config = exchange_config(atproto_stack, tmp_path)
    await upgrade(config.db_url, MIGRATIONS)
    async with Database.from_url(config.db_url) as database:
        keys = identity.load_keys(config)
        did = await identity.establish(config, database, keys)
        offline = exchange_config(atproto_stack, tmp_path, pds_url="http://127.0.0.1:9",
                                  handle=config.handle)  # fmt: skip
        assert await identity.establish(offline, database, keys) == did


async def test_an_exchange_that_cannot_bind_stops_what_it_started(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    """Its port taken, the exchange fails to start and leaves nothing running: no database
    thread, verifier process or task that would keep the process from exiting."""

    def running() -> set[object]:
        threads = {t for t in threading.enumerate() if "_connection_worker" in t.name}
        return {*threads, *multiprocessing.active_children(), *tasks_running("exchange")}

    before = running()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = exchange_config(
            atproto_stack, tmp_path, server=ServerConfig(port=port, metrics_port=None)
        )
        with pytest.raises(BindError):
            await build(config)
    assert not running() - before, "the failed start left these running"
    async with Database.from_url(config.db_url) as database:
        assert await identity.known_did(database) is not None  # it failed late, not early
