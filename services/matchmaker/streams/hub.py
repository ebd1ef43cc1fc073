"""What provider streams and dispatches share: the pool, live streams, sessions, auth checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StreamClosed
from ..events import MatchmakerEvents
from ..pool import Pool, ProviderEntry, ProviderKey
from ..settings import JobSettings, StreamSettings
from .attestation import AttestationChecker
from .auth import TokenVerifier
from .register import LiveFacts
from .sessions import SessionTable

if TYPE_CHECKING:
    from .connection import ProviderStream


@dataclass(eq=False)
class Hub:
    pool: Pool
    streams: StreamSettings
    jobs: JobSettings
    tokens: TokenVerifier
    attestations: AttestationChecker
    events: MatchmakerEvents
    wall_clock: Callable[[], float]
    replica_id: str
    connections: dict[ProviderKey, ProviderStream] = field(default_factory=dict)
    # Directory work for the sync loop: machines that (re)connected here, and that left.
    claims: set[ProviderKey] = field(default_factory=set)
    gone: set[ProviderKey] = field(default_factory=set)
    draining: bool = False

    def __post_init__(self) -> None:
        self.sessions = SessionTable(
            self.jobs, self.streams, self.pool.release, asyncio.get_running_loop().time
        )

    def attach(self, stream: ProviderStream, entry: ProviderEntry) -> None:
        """`stream` now serves `entry`'s machine; an older stream for it is closed."""
        self.pool.add(entry)
        old = self.connections.get(entry.key)
        self.connections[entry.key] = stream
        if old is not None and old is not stream:
            old.close(
                StreamClosed("this machine connected again on a newer stream", code="replaced")
            )
        # Jobs still running from the old stream hold slots on the machine: carry them over.
        for session in self.sessions.for_key(entry.key):
            if session.entry is not entry:
                session.entry = entry
                entry.in_use += 1
        self.pool.refresh(entry)
        self.claims.add(entry.key)
        self.gone.discard(entry.key)
        self.events.provider_registered(len(self.pool))

    def disconnected(self, stream: ProviderStream) -> None:
        """Runs once per stream, however it ended; detaches its jobs so they can resume."""
        if stream.key is None:
            return
        for session in self.sessions.for_key(stream.key):
            if session.link is stream:
                session.detach()
        if self.connections.get(stream.key) is stream:
            del self.connections[stream.key]
            if stream.entry is not None:
                self.pool.remove(stream.entry)
            self.claims.discard(stream.key)
            self.gone.add(stream.key)
            self.events.provider_disconnected(len(self.pool))

    def update_facts(self, stream: ProviderStream, facts: LiveFacts) -> None:
        entry = stream.entry
        if entry is None:
            return

        def change(e: ProviderEntry) -> None:
            e.models, e.slots, e.country, e.pro_bono = (
                facts.models, facts.slots, facts.country, facts.pro_bono
            )  # fmt: skip

        self.pool.reindex(entry, change)

    def touch(self, entry: ProviderEntry) -> None:
        """Slots or draining changed: re-file it (the directory sync republishes changes)."""
        self.pool.refresh(entry)
