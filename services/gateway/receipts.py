"""Waiting for providers' receipts: one `listRecords` per provider repo per round, however many
settlements wait on it (instead of one `getRecord` per job per round).

A provider publishes its receipt once the answer was delivered, so the record appears a moment
after the job completes, and later still when that PDS is busy; polling for each job on its
own multiplies the reads exactly when the PDS can least afford them. Here every waiter on the
same repo shares one poller: it reads the newest page of the repo's receipts, hands each
waiter its record (checked against the CID the completion carried), backs off while nothing
new appears, and fetches a receipt older than the page one by one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from cocore.atproto import AtprotoClient, AtprotoError, RecordView
from cocore.errors import CocoreError
from cocore.lexicon import ids
from cocore.syntax import AtUri, parse_at_uri, parse_did, record_cid

from . import events
from .records import Placed
from .repos import RepoReader

log = logging.getLogger("cocore.gateway")
MAX_PAGE = 100  # listRecords' upper bound


@dataclass
class _Waiter:
    uri: AtUri
    cid: str
    found: asyncio.Future[Placed | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def resolve(self, view: RecordView) -> None:
        if not self.found.done():
            self.found.set_result(checked(self.uri, self.cid, str(view.cid), view.value))


def checked(uri: AtUri, expected: str, cid: str, record: Any) -> Placed | None:
    """The receipt at `uri`, if it is the version the completion named: the CID its source
    reports and the one computed here from the record both equal `expected`."""
    try:
        ok = isinstance(record, dict) and cid == expected and str(record_cid(record)) == cid
    except (ValueError, TypeError):  # not a record at all
        ok = False
    if not ok:
        log.warning("receipt_cid_mismatch uri=%s", uri)
        return None
    return Placed(uri.collection, str(uri.rkey), str(uri), cid, record)


class ReceiptWatch:
    def __init__(
        self, repos: RepoReader, *, first_delay_s: float = 0.02, max_delay_s: float = 1.0
    ) -> None:
        self._repos = repos
        self._first = first_delay_s
        self._max = max_delay_s
        self._waiting: dict[str, dict[str, _Waiter]] = {}  # repo DID → rkey → waiter
        self._pollers: dict[str, asyncio.Task[None]] = {}

    async def wait(self, uri: str, cid: str, timeout_s: float) -> Placed | None:
        """The receipt at `uri` with CID `cid`; None if it does not appear in time or differs."""
        at = parse_at_uri(uri)
        did, rkey = str(at.repo), str(at.rkey)
        waiters = self._waiting.setdefault(did, {})
        waiter = waiters.get(rkey) or waiters.setdefault(rkey, _Waiter(at, cid))
        if did not in self._pollers:
            self._pollers[did] = asyncio.create_task(self._poll(did), name=f"receipts {did}")
        started = time.perf_counter()
        try:
            found = await asyncio.wait_for(asyncio.shield(waiter.found), timeout_s)
            events.stage("receipt_wait", time.perf_counter() - started)
            return found
        except TimeoutError:
            return None
        finally:
            if waiters.get(rkey) is waiter:
                del waiters[rkey]

    async def aclose(self) -> None:
        for task in self._pollers.values():
            task.cancel()
        await asyncio.gather(*self._pollers.values(), return_exceptions=True)

    async def _poll(self, did: str) -> None:
        delay = self._first
        try:
            while self._waiting.get(did):
                await asyncio.sleep(delay)
                found = await self._round(did)
                delay = self._first if found else min(delay * 2, self._max)
        finally:
            del self._pollers[did]
            if not self._waiting.get(did):
                self._waiting.pop(did, None)

    async def _round(self, did: str) -> bool:
        """One read of the repo's newest receipts; True when a waiter got its record."""
        waiters = self._waiting.get(did, {})
        limit = min(MAX_PAGE, 2 * len(waiters) + 8)
        try:
            client = await self._repos.client(did)
            page = await client.list_records(parse_did(did), ids.COMPUTE_RECEIPT, limit)
        except (AtprotoError, CocoreError):
            return False
        found = False
        for view in page.records:
            waiter = waiters.get(str(view.uri.rkey))
            if waiter is not None:
                waiter.resolve(view)
                found = True
        if len(page.records) == limit:  # a waiter older than the page: ask for it by name
            oldest = min(str(v.uri.rkey) for v in page.records)
            for rkey, waiter in list(waiters.items()):
                if rkey < oldest and not waiter.found.done():
                    found = await _fetch(client, waiter) or found
        return found


async def _fetch(client: AtprotoClient, waiter: _Waiter) -> bool:
    u = waiter.uri
    try:
        view = await client.get_record(u.repo, u.collection, u.rkey)
    except (AtprotoError, CocoreError):
        return False
    waiter.resolve(view)
    return True
