"""Fetching the records a receipt names, by strongRef, from the repo that owns each one.

The owning PDS comes from DID resolution. A fetched record is cached by (URI, CID) only
when its computed CID is the one the strongRef names, so the cache holds exact versions; a
record whose CID differs is still returned, and the verifier reports the mismatch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from cocore.atproto import (
    AtprotoClient,
    AtprotoError,
    DidNotFound,
    IdentityResolver,
    UnsupportedDid,
    XrpcNotFound,
)
from cocore.errors import CocoreError
from cocore.syntax import InvalidSyntaxError, Nsid, parse_at_uri, record_cid

from .errors import DependencyUnavailable


class RecordFetcher:
    def __init__(self, resolver: IdentityResolver, *, cache_entries: int = 20_000) -> None:
        self._resolver = resolver
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._max = cache_entries
        self._clients: dict[str, AtprotoClient] = {}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def fetch(self, ref: object, collection: Nsid) -> dict[str, Any]:
        """The record a strongRef names; `{}` when the ref is unusable (the verifier says why)."""
        if not isinstance(ref, Mapping):
            return {}
        uri_text, cid = ref.get("uri"), ref.get("cid")
        if not isinstance(uri_text, str) or not isinstance(cid, str):
            return {}
        try:
            uri = parse_at_uri(uri_text)
        except InvalidSyntaxError:
            return {}
        if uri.collection != collection:
            return {}
        if (cached := self._cache.get((uri_text, cid))) is not None:
            self._cache.move_to_end((uri_text, cid))
            return cached
        record = await self._get(uri.repo, collection, uri.rkey, uri_text)
        if _cid(record) == cid:
            self._remember((uri_text, cid), record)
        return record

    async def _get(self, repo: Any, collection: Nsid, rkey: Any, uri: str) -> dict[str, Any]:
        try:
            pds = await self._resolver.pds_endpoint(repo)
            if pds is None:
                raise DependencyUnavailable(f"{repo} names no PDS", details={"uri": uri})
            client = self._clients.get(pds)
            if client is None:
                transport = self._resolver.transport()
                client = self._clients[pds] = AtprotoClient.anonymous(pds, transport=transport)
            view = await client.get_record(repo, collection, rkey)
        except (XrpcNotFound, DidNotFound, UnsupportedDid):
            return {}  # gone: the verifier reports the broken link
        except (AtprotoError, CocoreError) as e:
            if isinstance(e, DependencyUnavailable):
                raise
            raise DependencyUnavailable(f"cannot fetch {uri}: {e.code}",
                                        details={"uri": uri}) from e  # fmt: skip
        return dict(view.value)

    def _remember(self, key: tuple[str, str], record: dict[str, Any]) -> None:
        self._cache[key] = record
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)


def _cid(record: Mapping[str, Any]) -> str | None:
    try:
        return str(record_cid(record))
    except InvalidSyntaxError:
        return None
