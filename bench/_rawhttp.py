"""A minimal HTTP/1.1 keep-alive client for bench/gateway: the path's own cost, without a
client library's (httpx, which the `openai` package uses, spends about 2–3 ms a request on
this machine — measured against a no-op ASGI server).

Enough HTTP for the gateway's answers: a status line, headers, and a body by Content-Length
or chunked transfer encoding. Anything else is an error, not a guess.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

CONTENT = b'"content"'


class RawHttp:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None

    async def post(self, path: str, body: dict[str, object], *, first_content: bool) -> float:
        """Seconds to the whole answer, or (first_content) to the first SSE content line."""
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._conn
        data = json.dumps(body).encode()
        start = time.perf_counter()
        writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n{self.headers}"
            f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
        lengths = {k.strip().lower(): v.strip() for k, v in fields.items()}
        first: float | None = None
        if b"content-length" in lengths:
            await reader.readexactly(int(lengths[b"content-length"]))
        elif lengths.get(b"transfer-encoding") == b"chunked":
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunk = await reader.readexactly(size + 2)
                if first is None and any(
                    line.startswith(b"data: {") and CONTENT in line for line in chunk.split(b"\n")
                ):
                    first = time.perf_counter() - start
            await reader.readuntil(b"\r\n")
        else:
            raise RuntimeError("an answer without Content-Length or chunked encoding")
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        if first_content:
            assert first is not None, "no content chunk"
            return first
        return time.perf_counter() - start
