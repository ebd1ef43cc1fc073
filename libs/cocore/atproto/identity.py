"""DID and handle resolution with a bounded TTL cache (misses cached too)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from cocore.syntax import Did, Handle, parse_did

from . import _parse as p
from ._cache import Clock, TtlCache
from ._closing import AsyncCloseable
from .diddoc import atproto_signing_key, check_document, did_document_url, handle, pds_endpoint
from .endpoints import EndpointPolicy, GuardedTransport
from .errors import AtprotoUnavailable, DidNotFound, HandleNotFound, InvalidDidDocument, XrpcError
from .keys import AtprotoKey
from .xrpc import XrpcClient, send_bounded

DEFAULT_PLC_URL = "https://plc.directory"
MAX_DOCUMENT_BYTES = 256 * 1024
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"


@dataclass(frozen=True, slots=True)
class AtprotoIdentity:
    """What an ATProto service needs from a DID document."""

    did: Did
    handle: Handle | None
    pds: str | None
    signing_key: AtprotoKey
    document: dict[str, Any]


class IdentityResolver(AsyncCloseable):
    """Resolves did:plc (against `plc_url`) and did:web documents, caching answers and misses."""

    def __init__(
        self,
        plc_url: str = DEFAULT_PLC_URL,
        *,
        allow_insecure_loopback: bool = False,
        endpoint_policy: EndpointPolicy | None = None,
        ttl_s: float = 300.0,
        negative_ttl_s: float = 60.0,
        max_entries: int = 10_000,
        timeout_s: float = 5.0,
        clock: Clock = time.monotonic,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.plc_url = plc_url.rstrip("/")
        self._insecure_loopback = allow_insecure_loopback
        # Which PDS endpoints `pds_endpoint` hands out: public https ones unless told otherwise.
        self._endpoints = endpoint_policy or EndpointPolicy(allow_private=allow_insecure_loopback)
        self._ttl_s, self._negative_ttl_s = ttl_s, negative_ttl_s
        self._timeout_s = timeout_s
        self._cache: TtlCache[Did, dict[str, Any]] = TtlCache(max_entries, clock)
        self._inflight: dict[Did, asyncio.Future[dict[str, Any]]] = {}
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def document_url(self, did: Did) -> str:
        return did_document_url(did, self.plc_url, allow_insecure_loopback=self._insecure_loopback)

    async def resolve_did(self, did: Did, *, fresh: bool = False) -> dict[str, Any]:
        """The DID document; `DidNotFound` (cached briefly) when the directory has none."""
        if not fresh and (entry := self._cache.get(did)) is not None:
            if entry.error is not None:
                raise entry.error
            assert entry.value is not None
            return entry.value
        pending = self._inflight.get(did)
        if pending is None:  # one fetch per DID at a time, however many tasks ask
            pending = asyncio.ensure_future(self._fetch_and_cache(did))
            self._inflight[did] = pending
            pending.add_done_callback(self._forget)
        return await asyncio.shield(pending)

    def _forget(self, done: asyncio.Future[dict[str, Any]]) -> None:
        for did, pending in list(self._inflight.items()):
            if pending is done:
                del self._inflight[did]
        if not done.cancelled():
            done.exception()  # retrieved here so an abandoned lookup never warns

    async def resolve_atproto(self, did: Did, *, fresh: bool = False) -> AtprotoIdentity:
        doc = await self.resolve_did(did, fresh=fresh)
        return AtprotoIdentity(did, handle(doc), pds_endpoint(doc), atproto_signing_key(doc), doc)

    async def atproto_key(self, did: Did, *, fresh: bool = False) -> AtprotoKey:
        """The DID's `#atproto` signing key (what service-auth JWTs are verified against)."""
        return atproto_signing_key(await self.resolve_did(did, fresh=fresh))

    async def pds_endpoint(self, did: Did) -> str | None:
        """The PDS to call for `did`'s repo; `UnsafeEndpoint` when the document names one the
        endpoint policy refuses (a private address, plain http…)."""
        endpoint = pds_endpoint(await self.resolve_did(did))
        return None if endpoint is None else self._endpoints.check(endpoint)

    def transport(self) -> GuardedTransport:
        """For a client of an endpoint `pds_endpoint` returned (`transport=`, one per client):
        each request connects to an address its name resolves to, checked by the policy."""
        return GuardedTransport(self._endpoints)

    async def _fetch_and_cache(self, did: Did) -> dict[str, Any]:
        try:
            doc = await self._fetch(did)
        except (DidNotFound, InvalidDidDocument) as e:
            self._cache.put_error(did, e, self._negative_ttl_s)
            raise
        self._cache.put(did, doc, self._ttl_s)
        return doc

    async def _fetch(self, did: Did) -> dict[str, Any]:
        url = self.document_url(did)
        request = self._http.build_request("GET", url, headers={"Accept": "application/json"})
        status, body = await send_bounded(
            self._http, request, max_bytes=MAX_DOCUMENT_BYTES, timeout_s=self._timeout_s,
            what=f"resolve {did.method} DID",
        )  # fmt: skip
        if status in (404, 410):
            raise DidNotFound(f"no DID document for {did}", details={"status": status})
        if status != 200:
            raise AtprotoUnavailable(f"DID resolution answered HTTP {status}")
        try:
            return check_document(did, json.loads(body))
        except ValueError as e:
            raise InvalidDidDocument("the DID document is not JSON") from e


async def resolve_handle(xrpc: XrpcClient, handle_: Handle) -> Did:
    """A handle's DID as the given PDS/service sees it (`com.atproto.identity.resolveHandle`)."""
    try:
        body = await xrpc.query(RESOLVE_HANDLE, {"handle": handle_})
    except XrpcError as e:
        if e.status == 400 and e.error in ("InvalidRequest", "HandleNotFound"):
            raise HandleNotFound(f"handle {handle_} does not resolve") from e
        raise
    return p.field(p.as_object(body, RESOLVE_HANDLE), "did", parse_did, RESOLVE_HANDLE)
