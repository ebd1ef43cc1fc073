"""bench/appview's HTTP client, in a process of its own as a real client would be.

    python -m bench._appview_client <base-url> <seed> [httpx|raw] [page size]

For each line on stdin it sends one `listReceipts?provider=` request (a random provider of
the bench's 1,000, limit 50), checks the page, and prints the round trip in seconds: the
bench steps it one request at a time, so its own CPU never shares the AppView's event loop.
`httpx` is a client library as users run it; `raw` is a minimal HTTP/1.1 keep-alive client
over a socket (a status line, headers, a Content-Length body), so the round trip is the
AppView's and the network's, without a library's own milliseconds.
"""

from __future__ import annotations

import random
import socket
import sys
import time
from urllib.parse import urlencode, urlsplit

import httpx

from bench._appview_frames import did

PROVIDERS = [did("prov", i) for i in range(1000)]
PATH = "/xrpc/dev.cocore.compute.listReceipts"
RECORD = b'"collection":'


class RawGet:
    """GET over one kept-alive socket; anything but a 200 with a Content-Length is an error."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.sock = socket.create_connection((self.host, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, target: str) -> tuple[int, bytes]:
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nhost: {self.host}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        fields = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
        length = next((int(v) for k, v in fields.items() if k.strip().lower() == b"content-length"),
                      None)  # fmt: skip
        if length is None:
            raise RuntimeError("an answer without Content-Length")
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split(b" ", 2)[1]), body

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buf += chunk


def main() -> None:
    base, seed = sys.argv[1], int(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "httpx"
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 50  # records a first page holds at least
    rng = random.Random(seed)
    raw = RawGet(base) if kind == "raw" else None
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in sys.stdin:
            params: dict[str, str | int] = {"provider": rng.choice(PROVIDERS), "limit": 50}
            if raw is not None:
                target = f"{PATH}?{urlencode(params)}"
                started = time.perf_counter()
                status, content = raw.get(target)
                elapsed = time.perf_counter() - started
            else:
                started = time.perf_counter()
                r = client.get(PATH, params=params)
                elapsed = time.perf_counter() - started
                status, content = r.status_code, r.content
            if status != 200 or content.count(RECORD) < size:
                print(f"error {status}", flush=True)
                return
            print(f"{elapsed:.9f}", flush=True)


if __name__ == "__main__":
    main()
