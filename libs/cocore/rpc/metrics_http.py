"""A small asyncio HTTP endpoint that serves one Prometheus registry at GET /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import functools

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

# prometheus_client's own start_http_server runs a thread whose shutdown polls every
# 0.5 s; serving on the service's event loop starts and stops instantly instead.
_HEAD_LIMIT_BYTES = 16 * 1024
_READ_TIMEOUT_S = 5.0
_PATHS = ("/metrics", "/")


class MetricsEndpoint:
    """A running metrics endpoint; `port` is the bound port, `stop()` closes it."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        self.host, self.port = server.sockets[0].getsockname()[:2]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> MetricsEndpoint:
    """Start serving `registry` on host:port (0 picks a free port)."""
    handler = functools.partial(_handle, registry)
    server = await asyncio.start_server(handler, host, port, limit=_HEAD_LIMIT_BYTES)
    return MetricsEndpoint(server)


async def _handle(
    registry: CollectorRegistry, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
        writer.write(_respond(registry, head))
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        pass  # a scraper that hangs up or sends junk gets nothing; the next scrape retries
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _respond(registry: CollectorRegistry, head: bytes) -> bytes:
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    if method not in ("GET", "HEAD"):
        return _response("405 Method Not Allowed", "text/plain", b"method not allowed\n")
    if path not in _PATHS:
        return _response("404 Not Found", "text/plain", b"not found\n")
    encoder, content_type = choose_encoder(_header(lines[1:], "accept"))
    body = encoder(registry)
    return _response("200 OK", content_type, b"" if method == "HEAD" else body, len(body))


def _header(lines: list[str], name: str) -> str:
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return ""


def _response(status: str, content_type: str, body: bytes, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
