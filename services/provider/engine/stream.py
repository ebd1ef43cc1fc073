"""The asyncio side of one generation: a queue the worker thread fills, read by the caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from services.provider.engine.types import Delta, Finish


class Sink:
    """The worker's end: it holds only this, so a stream the caller drops can be collected
    (and its `__del__` cancel the generation)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[Delta | Finish] = asyncio.Queue()
        self.closed = False  # the caller walked away; drop further items

    def deliver(self, items: list[Delta | Finish]) -> None:
        """Thread-safe: schedule `items` onto the caller's loop (dropped if it is gone)."""
        try:
            self._loop.call_soon_threadsafe(self._push, items)
        except RuntimeError:  # the caller's loop is closed: nobody is listening any more
            self.closed = True

    def _push(self, items: list[Delta | Finish]) -> None:
        if not self.closed:
            for item in items:
                self.queue.put_nowait(item)


class LocalStream:
    """Implements `GenerationStream` on the caller's event loop."""

    def __init__(self, sink: Sink, cancel: Callable[[], None]) -> None:
        self._sink = sink
        self._queue = sink.queue
        self._cancel = cancel
        self._finished = False  # the Finish was handed to the caller

    @property
    def _closed(self) -> bool:
        return self._sink.closed

    def __aiter__(self) -> LocalStream:
        return self

    async def __anext__(self) -> Delta | Finish:
        if self._finished or self._closed:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            self.cancel()  # the task reading us was cancelled: so is the generation
            raise
        if isinstance(item, Finish):
            self._finished = True
        return item

    async def next_items(self, deadline: float | None = None) -> list[Delta | Finish]:
        """Every item the engine has delivered, waiting for the first; [] once `deadline` (on
        the loop's clock) passes first — the generation goes on — or once the stream is done."""
        if self._finished or self._closed:
            return []
        items: list[Delta | Finish] = []
        if self._queue.empty():
            try:
                async with asyncio.timeout_at(deadline):
                    items.append(await self._queue.get())
            except TimeoutError:
                return []
            except asyncio.CancelledError:
                self.cancel()  # the task reading us was cancelled: so is the generation
                raise
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        self._finished = isinstance(items[-1], Finish)
        return items

    def cancel(self) -> None:
        """Ask the engine to stop this generation; a Finish(`cancelled`) still arrives."""
        if not self._finished and not self._closed:
            self._cancel()

    async def aclose(self) -> None:
        self.cancel()
        self._sink.closed = True

    async def __aenter__(self) -> LocalStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A stream dropped without being read to the end must not keep its slot busy.
        if not self._finished and not self._closed:
            self._cancel()
