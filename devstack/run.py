"""The supervisor's life: start everything in order, bootstrap accounts, report, watch, stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import httpx

from services.gateway.edge import envoy_binary

from . import bootstrap
from .layout import Layout
from .services import (
    atproto_specs,
    core_specs,
    database_urls,
    envoy_spec,
    gateway_spec,
    plc_database_url,
    provider_spec,
)
from .supervisor import StartError, Supervisor

log = logging.getLogger("devstack")


async def supervise(lay: Layout, pg_admin_url: str | None) -> int:
    sup = Supervisor(lay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(start_all(sup, lay, pg_admin_url))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # `make down` during start-up
            starting.cancel()
            return 0
        starting.result()
        sup.state, sup.message = "ready", "the stack answers"
        sup.write_status()
        log.info("ready: %s", lay.env_file)
        watcher = asyncio.create_task(sup.watch())
        await stop.wait()
        watcher.cancel()
        return 0
    except (StartError, httpx.HTTPError, OSError, RuntimeError) as e:
        sup.state, sup.message = "failed", str(e)
        sup.write_status()
        log.error("start-up failed: %s", e)
        return 1
    finally:
        state, message = sup.state, sup.message
        sup.stop()
        if state == "failed":  # keep the reason for `up` to print
            sup.state, sup.message = state, message
            sup.write_status()


async def start_all(sup: Supervisor, lay: Layout, pg_admin_url: str | None) -> None:
    db = database_urls(lay, pg_admin_url)
    plc, pds = atproto_specs(lay, plc_database_url(pg_admin_url))
    await sup.start(plc)
    await sup.start(pds)
    await asyncio.gather(*(sup.start(spec) for spec in core_specs(lay, db)))
    requester, provider = await asyncio.gather(
        bootstrap.create_account(lay, "requester.test"),
        bootstrap.create_account(lay, "provider.test"),
    )
    exchange = await bootstrap.exchange_did(lay)
    await asyncio.to_thread(bootstrap.init_provider, lay, provider, exchange)
    await sup.start(gateway_spec(lay, db))
    await sup.start(envoy_spec(lay, envoy_binary()))
    key = await bootstrap.requester_key(lay, requester)
    bootstrap.save(lay, bootstrap.Accounts(requester, provider, exchange, key))
    sup.spawn(provider_spec(lay))
    await wait_for_model(sup, key)
    write_env(lay, bootstrap.load(lay), "postgres" if pg_admin_url else "sqlite")


async def wait_for_model(sup: Supervisor, key: str, timeout_s: float = 300.0) -> None:
    """Until the model is served through the edge (the provider loaded it and connected)."""
    deadline = time.monotonic() + timeout_s
    headers = {"authorization": f"Bearer {key}"}
    lay = sup.lay
    async with httpx.AsyncClient(base_url=lay.url("edge"), headers=headers, timeout=5) as http:
        while time.monotonic() < deadline:
            provider = sup.children.get("provider")
            if provider is not None and provider.process.poll() is not None:
                raise StartError(f"the provider exited with {provider.process.returncode}; "
                                 f"see {sup.lay.log('provider')}")  # fmt: skip
            r = await http.get(f"/v1/models/{lay.model_id}")
            if r.status_code == 200:
                return
            await asyncio.sleep(0.5)
    raise StartError(f"no provider serves {lay.model_id} after {timeout_s:.0f} s; "
                     f"see {sup.lay.log('provider')}")  # fmt: skip


def write_env(lay: Layout, accounts: bootstrap.Accounts, db: str) -> None:
    values = {
        "OPENAI_BASE_URL": lay.url("edge") + "/v1",
        "OPENAI_API_KEY": accounts.api_key,
        "COCORE_MODEL": lay.model_id,
        "COCORE_APPVIEW_URL": lay.url("appview_http"),
        "COCORE_APPVIEW_GRPC_ADDR": lay.address("appview"),
        "COCORE_EXCHANGE_ADDR": lay.address("exchange"),
        "COCORE_MATCHMAKER_ADDR": lay.address("matchmaker"),
        "COCORE_GATEWAY_URL": lay.url("gateway_http"),
        "COCORE_GATEWAY_AUTHZ_ADDR": lay.address("gateway"),
        "COCORE_PLC_URL": lay.url("plc"),
        "COCORE_PDS_URL": lay.url("pds"),
        "COCORE_EXCHANGE_DID": accounts.exchange_did,
        "COCORE_REQUESTER_DID": accounts.requester.did,
        "COCORE_PROVIDER_DID": accounts.provider.did,
        "COCORE_PROVIDER_HOME": str(lay.provider_home),
        "COCORE_DB": db,
    }
    fd = os.open(lay.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# written by `make up`; `make down` removes it\n")
        f.writelines(f"{k}={v}\n" for k, v in values.items())
