"""The CPU-heavy half of ingest: one source's firehose, read, decoded and validated.

Two stages joined by a bounded queue: the reader drains the websocket (the consumer decodes
each frame and proves its ops against the commit's tree), the checker verifies each commit's
signature against its repo's key, validates the records and hands them on in chunks of a few
dozen. A commit that fails either check reaches the writer as a resync of its repo. It
runs in the AppView's event loop, or in a child process of its own (`ingestworker.py`) so
that decoding and validating use another core and never hold up queries or the writer.
Everything it hands on is plain data, the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from cocore.atproto import (
    DEFAULT_PLC_URL,
    Batch,
    CommitSignatures,
    FirehoseConsumer,
    IdentityResolver,
)

from .items import Item
from .translate import checks, firehose_items
from .validate import DEFAULT_MAX_RECORD_BYTES, RecordValidator

COLLECTIONS = ("dev.cocore.",)
SLICE_FRAMES = 32  # validated frames per hand-off: a few ms of work between yields


class Frame(NamedTuple):
    """One frame's events as store items, validated."""

    seq: int | None
    items: list[Item]
    events: int


class Marker(NamedTuple):
    """Every frame up to `seq` is ahead of this in the pipeline: once the writer gets here it
    may commit the cursor `seq` (frames without cocore records move it too)."""

    seq: int


class Status(NamedTuple):
    """The websocket connected (or dropped); `cursor` is where it resumed."""

    connected: bool
    cursor: int | None


Checked = Frame | Marker | Status


@dataclass(frozen=True, slots=True)
class FrontConfig:
    """Everything the front needs, as plain values (it crosses to a child process as JSON)."""

    source: str
    cursor: int | None
    plc_url: str = DEFAULT_PLC_URL  # where the repos' signing keys are resolved
    from_pds: bool = False  # `source` is a PDS: the repos it hosts need no signature check
    insecure_loopback: bool = False  # did:web over plain http on loopback (dev only)
    exchanges: tuple[str, ...] | None = None
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    queue_frames: int = 1024
    marker_interval_s: float = 2.0

    def validator(self) -> RecordValidator:
        return RecordValidator(exchanges=self.exchanges, max_record_bytes=self.max_record_bytes)


class Front:
    """Reads `config.source` from `config.cursor` and hands validated chunks to `emit`."""

    def __init__(
        self,
        config: FrontConfig,
        validator: RecordValidator,
        emit: Callable[[list[Checked]], Awaitable[None]],
    ) -> None:
        self._config, self._validator, self._emit = config, validator, emit

    async def run(self) -> None:
        """Until cancelled, or until a stage fails (the failure is raised)."""
        config = self._config
        consumer = FirehoseConsumer(config.source, cursor=config.cursor, collections=COLLECTIONS)
        resolver = IdentityResolver(
            config.plc_url, allow_insecure_loopback=config.insecure_loopback
        )
        raw: asyncio.Queue[Batch | Marker | Status] = asyncio.Queue(config.queue_frames)
        stages = [
            asyncio.create_task(self._read(consumer, raw)),
            asyncio.create_task(self._mark(consumer, raw)),
            asyncio.create_task(
                self._check(
                    raw, CommitSignatures(resolver, host=config.source if config.from_pds else None)
                )
            ),
        ]
        try:
            done, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a stage failed (or the stream ended): surface it
        finally:
            for task in stages:
                task.cancel()
            await consumer.aclose()
            for task in stages:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await resolver.aclose()

    async def _read(
        self, consumer: FirehoseConsumer, raw: asyncio.Queue[Batch | Marker | Status]
    ) -> None:
        async for batch in consumer:
            await raw.put(batch)

    async def _mark(
        self, consumer: FirehoseConsumer, raw: asyncio.Queue[Batch | Marker | Status]
    ) -> None:
        interval, connected = self._config.marker_interval_s, False
        while True:
            if connected:
                await asyncio.sleep(interval)
            else:  # report a connection at once, a drop within the interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(consumer.connected.wait(), interval)
            if consumer.connected.is_set() != connected:
                connected = not connected
                await raw.put(Status(connected, consumer.cursor))
            # consumer.cursor never passes a frame the reader still holds, so every frame up
            # to it is already queued ahead of this marker.
            if consumer.cursor is not None and not raw.full():
                raw.put_nowait(Marker(consumer.cursor))

    async def _check(
        self, raw: asyncio.Queue[Batch | Marker | Status], signatures: CommitSignatures
    ) -> None:
        while True:
            got = [await raw.get()]
            while len(got) < SLICE_FRAMES and not raw.empty():
                got.append(raw.get_nowait())
            await self._emit([self._validated(item) for item in await signatures.check(got)])
            await asyncio.sleep(0)  # let the loop's other tasks in between slices

    def _validated(self, item: Batch | Marker | Status) -> Checked:
        if not isinstance(item, Batch):
            return item
        check = self._validator.check
        verdicts = [check(*op) for op in checks(item.events)]
        return Frame(item.seq, firehose_items(item.events, verdicts), len(item.events))
