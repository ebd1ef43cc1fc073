"""Friends-only routing: the DIDs a requester named in its own `account.friend` records.

Read from the requester's repo (the authoritative copy; the AppView has no per-friender
query) and cached briefly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cocore.atproto import AtprotoError
from cocore.lexicon import ids
from cocore.syntax import InvalidSyntaxError, parse_did

from .cache import TtlCache
from .errors import Unavailable
from .repos import RepoReader

MAX_FRIENDS = 4096


class Friends:
    def __init__(
        self, repos: RepoReader, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.repos = repos
        self._cache: TtlCache[str, tuple[str, ...]] = TtlCache(ttl_s, clock)

    async def of(self, did: str) -> tuple[str, ...]:
        found, friends = self._cache.get(did)
        if found and friends is not None:
            return friends
        subjects: set[str] = set()
        try:
            client = await self.repos.client(did)
            async for view in client.iter_records(parse_did(did), ids.ACCOUNT_FRIEND):
                subject = view.value.get("subject")
                try:
                    subjects.add(str(parse_did(subject)))
                except (InvalidSyntaxError, TypeError):
                    continue  # a malformed friend record is not a friend
                if len(subjects) >= MAX_FRIENDS:
                    break
        except AtprotoError as e:
            raise Unavailable("cannot read your friend records from your PDS",
                              code="pds_unavailable") from e  # fmt: skip
        result = tuple(sorted(subjects - {did}))
        self._cache.put(did, result)
        return result
