"""An async `com.atproto.sync.subscribeRepos` consumer: resumable, filtered, self-reconnecting."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import CloseCode

from ._closing import AsyncCloseable
from .errors import FirehoseError, FirehoseFutureCursor, FrameTooLarge, MalformedFrame
from .events import Batch, FirehoseEvent
from .frames import ErrorFrame, decode_frame

log = logging.getLogger(__name__)

SUBSCRIBE_REPOS = "com.atproto.sync.subscribeRepos"
DEFAULT_MAX_FRAME_BYTES = 5 << 20  # a PDS caps commit blocks at 2 MB; leave room


@dataclass
class FirehoseStats:
    """Counters a service can export as metrics."""

    connects: int = 0
    frames: int = 0
    events: int = 0
    malformed: int = 0
    unknown: int = 0
    error_frames: int = 0
    stale: int = 0
    reconnects: int = 0


class Backoff:
    """Exponential backoff with jitter in [d/2, d]; the random source is injectable."""

    def __init__(
        self, initial_s: float = 0.25, max_s: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self._initial, self._max = initial_s, max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._next = initial_s

    def reset(self) -> None:
        self._next = self._initial

    def delay(self) -> float:
        d = self._next
        self._next = min(self._max, d * 2)
        return d / 2 + self._rng.random() * d / 2


def subscribe_url(service_url: str) -> str:
    """The websocket URL of a PDS/relay firehose, from its http(s) or ws(s) base URL."""
    parts = urlsplit(service_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith(SUBSCRIBE_REPOS):
        path = f"{path.removesuffix('/xrpc')}/xrpc/{SUBSCRIBE_REPOS}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class _Reconnect(Exception):
    pass


class FirehoseConsumer(AsyncCloseable):
    """`async for batch in consumer`: one `Batch` per frame with kept events.

    `cursor` is the seq of the last frame fully handled: it moves past a batch only when the
    caller asks for the next one, so it is safe to persist at any time, and reconnects resume
    after it (nothing lost, nothing repeated). Persisting `batch.seq` once a batch is processed
    is equivalent. Malformed frames are counted in `stats` and skipped.
    """

    def __init__(
        self,
        service_url: str,
        *,
        cursor: int | None = None,
        collections: Iterable[str] = (),
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
        max_failures: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = subscribe_url(service_url)
        self._cursor = cursor
        self._prefixes = tuple(collections)
        self._max_frame_bytes = max_frame_bytes
        self._backoff = backoff or Backoff()
        self._open_timeout_s = open_timeout_s
        self._ping_interval_s = ping_interval_s
        self._max_failures = max_failures
        self._sleep = sleep
        self._ws: websockets.ClientConnection | None = None
        self._closed = False
        self._failures = 0
        self.stats = FirehoseStats()
        self.connected = asyncio.Event()

    @property
    def cursor(self) -> int | None:
        return self._cursor

    def _is_closed(self) -> bool:  # a call, so type checkers do not narrow it across awaits
        return self._closed

    def __aiter__(self) -> AsyncGenerator[Batch, None]:
        return self.batches()

    def events(self) -> _Events:
        """The same stream one event at a time (the cursor moves once a frame's events are done)."""
        return _Events(self.batches())

    async def aclose(self) -> None:
        """Stop: the iterator ends after the current frame."""
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def reconnect(self) -> None:
        """Drop the current connection; the iterator reconnects and resumes after `cursor`."""
        if self._ws is not None:
            await self._ws.close()

    async def batches(self) -> AsyncGenerator[Batch, None]:
        # One generator (no nested ones) so an abandoned iterator finalises cleanly.
        while not self._is_closed():
            try:
                async with self._connect() as ws:
                    if self._is_closed():  # aclose() ran while we were connecting
                        return
                    self._ws = ws
                    self.stats.connects += 1
                    self.connected.set()
                    async for raw in ws:
                        seq, batch = self._handle(raw)
                        if batch is not None:
                            yield batch
                        if seq is not None:
                            self._cursor = seq
            except _Reconnect:
                pass
            except (OSError, TimeoutError, InvalidHandshake) as e:
                log.info("firehose %s: connect failed (%s)", self.url, type(e).__name__)
            except ConnectionClosed as e:
                self._raise_if_too_big(e)
            finally:
                self._ws = None
                self.connected.clear()
            if self._is_closed():
                return
            await self._pause_before_retry()

    def _connect(self) -> websockets.connect:
        query = "" if self._cursor is None else f"?{urlencode({'cursor': self._cursor})}"
        return websockets.connect(
            self.url + query,
            max_size=self._max_frame_bytes,
            open_timeout=self._open_timeout_s,
            ping_interval=self._ping_interval_s,
            close_timeout=2,
            compression=None,
        )

    def _raise_if_too_big(self, e: ConnectionClosed) -> None:
        if e.sent is not None and e.sent.code == CloseCode.MESSAGE_TOO_BIG:
            raise FrameTooLarge(
                f"a firehose frame exceeded {self._max_frame_bytes} bytes",
                details={"cursor": self._cursor, "limit": self._max_frame_bytes},
            ) from e

    async def _pause_before_retry(self) -> None:
        self._failures += 1
        if self._max_failures is not None and self._failures > self._max_failures:
            raise FirehoseError(f"firehose {self.url}: {self._failures} attempts without progress")
        self.stats.reconnects += 1
        await self._sleep(self._backoff.delay())

    def _handle(self, raw: str | bytes) -> tuple[int | None, Batch | None]:
        self.stats.frames += 1
        try:
            if isinstance(raw, str):
                raise MalformedFrame("text frame on a binary subscription")
            frame = decode_frame(raw, self._prefixes)
        except MalformedFrame as e:
            self.stats.malformed += 1
            log.warning("firehose %s: skipped a malformed frame (%s)", self.url, e.message)
            return None, None
        if frame.error is not None:
            self._on_error(frame.error)
        self._failures = 0
        self._backoff.reset()
        if not frame.known:
            self.stats.unknown += 1
        if frame.seq is not None and self._cursor is not None and frame.seq <= self._cursor:
            self.stats.stale += 1  # already handed out: seq only ever grows on one stream
            return None, None
        if not frame.events:
            return frame.seq, None
        self.stats.events += len(frame.events)
        return frame.seq, Batch(frame.seq, frame.events, frame.commit)

    def _on_error(self, error: ErrorFrame) -> None:
        self.stats.error_frames += 1
        if error.error == "FutureCursor":
            raise FirehoseFutureCursor(
                f"firehose {self.url}: cursor {self._cursor} is ahead of the server",
                details={"cursor": self._cursor},
            )
        log.warning("firehose %s: error frame %s; reconnecting", self.url, error.error[:40])
        raise _Reconnect


class _Events:
    """Flattens batches into events. A class, not a nested async generator, so closing at
    loop shutdown never races two generators over one connection."""

    def __init__(self, batches: AsyncGenerator[Batch, None]) -> None:
        self._batches = batches
        self._pending: deque[FirehoseEvent] = deque()

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> FirehoseEvent:
        while not self._pending:
            self._pending.extend((await anext(self._batches)).events)
        return self._pending.popleft()

    async def aclose(self) -> None:
        await self._batches.aclose()
