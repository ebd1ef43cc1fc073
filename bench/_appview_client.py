"""bench/appview's HTTP client, in a process of its own as a real client would be.

    python -m bench._appview_client <base-url> <seed>

For each line on stdin it sends one `listReceipts?provider=` request (a random provider of
the bench's 1,000, limit 50), checks the page, and prints the round trip in seconds: the
bench steps it one request at a time, so its own CPU never shares the AppView's event loop.
"""

from __future__ import annotations

import random
import sys
import time

import httpx

from bench._appview_frames import did

PROVIDERS = [did("prov", i) for i in range(1000)]
PATH = "/xrpc/dev.cocore.compute.listReceipts"


def main() -> None:
    base, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in sys.stdin:
            params: dict[str, str | int] = {"provider": rng.choice(PROVIDERS), "limit": 50}
            started = time.perf_counter()
            r = client.get(PATH, params=params)
            elapsed = time.perf_counter() - started
            if r.status_code != 200 or r.content.count(b'"collection":') != 50:
                print(f"error {r.status_code}", flush=True)
                return
            print(f"{elapsed:.9f}", flush=True)


if __name__ == "__main__":
    main()
