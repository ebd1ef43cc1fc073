"""The agent's background loops: attestation renewal, the owner's live fields, the exchange's
tokenRate, the outbox backlog and the status file. Each survives its own failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from cocore.errors import CocoreError

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger("cocore.provider.watch")


class Watchers:
    def __init__(self, agent: Agent, stop: asyncio.Event) -> None:
        self._agent = agent
        self._stop = stop

    def loops(self) -> list[Coroutine[Any, Any, None]]:
        c = self._agent.config
        return [
            self._every(60.0, self.attestation),
            self._every(c.record_poll_s, self.owner_fields),
            self._every(c.policy_refresh_s, self.policy),
            self._every(c.status_interval_s, self.status),
        ]

    async def _every(self, interval_s: float, step: Callable[[], Awaitable[None]]) -> None:
        """Until the agent stops (cooperatively: a step is never cut off mid-write)."""
        while not self._stop.is_set():
            try:
                await step()
            except CocoreError as e:  # a PDS or exchange blip: try again next round
                log.warning("%s failed: %s", step.__name__, e.code)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval_s)

    async def attestation(self) -> None:
        """Renew well before expiry; a failure (or recovery) shows on the provider record."""
        agent = self._agent
        before = agent.keeper.fault
        await agent.keeper.renew_if_due()
        if agent.keeper.fault != before:
            await agent.publish_record(agent.state(serving=True))

    async def owner_fields(self) -> None:
        """Re-read `proBono` and `active` from the record the owner edits (live, not at boot)."""
        agent = self._agent
        view = await agent.record.read()
        if view is not None and agent._owner_fields(view.value):
            agent.link.update_provider(models=agent.link_models(), pro_bono=agent.pro_bono)
            log.info("owner fields changed: active=%s proBono=%s", agent.active,
                     agent.pro_bono.mode or "off")  # fmt: skip

    async def policy(self) -> None:
        agent = self._agent
        rate = await agent.read_rate()
        if rate != agent.rate:
            agent.rate = rate
            await agent.publish_record(agent.state(serving=True))

    async def status(self) -> None:
        agent = self._agent
        counts = await agent.outbox.counts()
        agent.outbox_counts = {**counts, "lastError": agent.publisher.last_error}
        await agent.write_status()
