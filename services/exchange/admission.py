"""Fast admission: answer `Admit` from memory when the ledger's last word on a member covers it.

A writer batch is the ledger's truth, and it costs a transaction. This book remembers, for
each member whose account a batch loaded, `available` as of that commit, and subtracts the
holds it has answered for that are not committed yet. Every change to an account goes
through this process's writer and is seen at its commit (refreshes and expiries only raise
`available`); other replicas' writes are bounded by `ttl_s`. When that covers the ceiling
plus the floor, the hold is queued to the writer and `Admit` answers at once. The batch runs
the full admission check again, so the books never hold more than the balance allows.

Answering before the hold is durable is safe for the books: a hold that never commits (the
process died before its batch; a debit queued just before it, or another replica, left too
little) is simply absent from the ledger, so the job's settlement finds no live hold and
charges the balance directly when it covers the price, or is refused and stays visible as
unsettled. Nothing is created or lost; the cost is that such a job was not reserved for
(`cocore_exchange_fast_admissions_lost` counts them). Everything uncertain — a stranger (the
grant), a replayed key, a doubtful balance — takes the slow path and waits for its batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import events
from .formulas import admission
from .holds import AdmitCommand, Admitted
from .state import Batch

MAX_MEMBERS = 100_000
RECENT_HOLDS = 100_000  # hold ids committed lately: a replayed key goes to the slow path


@dataclass(slots=True)
class _Known:
    balance: int
    available: int
    at: float  # monotonic time of the commit it came from


@dataclass(frozen=True, slots=True)
class _InFlight:
    did: str
    amount: int
    committed: asyncio.Future[Any]  # the writer's answer for its command


class AdmissionBook:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._in_flight: dict[str, _InFlight] = {}
        self._reserved: dict[str, int] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()

    def admit(self, command: AdmitCommand, *, floor: int, now: datetime) -> Admitted | None:
        """An answer now, or None: take the slow path. The caller must queue the command
        with the writer and then call `track` before it next awaits."""
        requester, amount, hold = command.requester, command.amount, command.hold
        if amount <= 0 or hold in self._in_flight or hold in self._recent:
            return None
        known = self._known.get(requester)
        if known is None or self._clock() - known.at > self.ttl_s:
            return None
        available = known.available - self._reserved.get(requester, 0)
        if not admission(available, amount, floor).ok:
            return None  # the batch decides, with fresh numbers (a refresh may be due)
        expires = now + timedelta(seconds=command.ttl_s)
        return Admitted(hold, amount, expires, known.balance, available - amount, False, False)

    def track(self, admitted: Admitted, requester: str, committed: asyncio.Future[Any]) -> None:
        """Count a hold answered for until its batch commits (or refuses it)."""
        assert admitted.hold_id is not None
        self._in_flight[admitted.hold_id] = _InFlight(requester, admitted.amount, committed)
        self._reserved[requester] = self._reserved.get(requester, 0) + admitted.amount

    def in_flight(self, did: str) -> list[asyncio.Future[Any]]:
        """The writer's answers still to come for holds answered for `did` (read-your-writes)."""
        return [f.committed for f in self._in_flight.values() if f.did == did]

    def settled(self, hold: str, outcome: Any) -> None:
        """The writer's answer for a tracked hold: a refusal, a conflict or an error means
        the hold answered for does not exist."""
        if self._untrack(hold) and not isinstance(outcome, Admitted):
            events.fast_admission_lost(type(outcome).__name__)

    def committed(self, batch: Batch) -> None:
        """A batch committed: its holds are in the ledger now, its accounts are current."""
        for row in batch.new_holds:
            self._untrack(row.id)
            self._recent[row.id] = None
        while len(self._recent) > RECENT_HOLDS:
            self._recent.popitem(last=False)
        now = self._clock()
        for account in batch.ledger.view.accounts.values():
            owner = account.owner
            if owner in batch.members or owner in self._known:
                self._known[owner] = _Known(account.balance, account.available, now)
                self._known.move_to_end(owner)
        while len(self._known) > MAX_MEMBERS:
            self._known.popitem(last=False)

    def _untrack(self, hold: str) -> bool:
        flight = self._in_flight.pop(hold, None)
        if flight is None:
            return False
        left = self._reserved.get(flight.did, 0) - flight.amount
        if left > 0:
            self._reserved[flight.did] = left
        else:
            self._reserved.pop(flight.did, None)
        return True
