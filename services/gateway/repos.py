"""Unauthenticated reads of anyone's repo, from the PDS their DID document names."""

from __future__ import annotations

from cocore.atproto import AtprotoClient, IdentityResolver
from cocore.syntax import parse_did

from .errors import Unavailable


class RepoReader:
    def __init__(self, resolver: IdentityResolver) -> None:
        self.resolver = resolver
        self._clients: dict[str, AtprotoClient] = {}

    async def client(self, did: str) -> AtprotoClient:
        endpoint = await self.resolver.pds_endpoint(parse_did(did))
        if endpoint is None:
            raise Unavailable(f"{did} names no PDS", code="pds_unknown")
        client = self._clients.get(endpoint)
        if client is None:
            transport = self.resolver.transport()
            client = self._clients[endpoint] = AtprotoClient.anonymous(
                endpoint, transport=transport
            )
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
