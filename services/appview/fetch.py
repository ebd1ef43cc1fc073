"""A record a strongRef names: from the index when it is there, else from its owner's PDS."""

from __future__ import annotations

import json
from typing import Any

from cocore.atproto import AtprotoClient, AtprotoError, IdentityResolver, UnsafeEndpoint
from cocore.errors import NotFound
from cocore.syntax import AtUri, InvalidSyntaxError, Nsid, parse_at_uri, record_cid

from .errors import RecordNotFound, UpstreamUnavailable
from .read import RecordReader


def ref_uri(ref: Any, nsid: Nsid, what: str) -> AtUri:
    """The URI of a strongRef that must name a record of `nsid`; `RecordNotFound` otherwise."""
    try:
        uri = parse_at_uri(ref.get("uri") if isinstance(ref, dict) else None)
    except InvalidSyntaxError as e:
        raise RecordNotFound(f"the {what} strongRef names no record") from e
    if uri.collection != nsid:
        raise RecordNotFound(f"the {what} strongRef names a {uri.collection}, not a {nsid}")
    return uri


class RecordFetcher:
    """Index first; a miss goes to the PDS in the repo's DID document, whose answer must hash
    to the CID it claims (the reference trusted whatever CID the PDS reported)."""

    def __init__(self, reader: RecordReader, resolver: IdentityResolver) -> None:
        self._reader = reader
        self._resolver = resolver

    async def by_ref(self, ref: Any, nsid: Nsid, what: str) -> dict[str, Any]:
        uri = ref_uri(ref, nsid, what)
        local = await self._reader.get(nsid, uri)
        if local is not None:
            value: dict[str, Any] = json.loads(local.body)
            return value
        return await self._from_pds(uri, what)

    async def _from_pds(self, uri: AtUri, what: str) -> dict[str, Any]:
        try:
            endpoint = await self._resolver.pds_endpoint(uri.repo)
            if endpoint is None:
                raise RecordNotFound(f"the {what} {uri} is not indexed and its repo has no PDS")
            transport = self._resolver.transport()
            async with AtprotoClient.anonymous(endpoint, transport=transport) as client:
                view = await client.get_record(uri.repo, uri.collection, uri.rkey)
        except NotFound as e:
            raise RecordNotFound(f"the {what} {uri} is neither indexed nor on its PDS") from e
        except UnsafeEndpoint as e:
            raise RecordNotFound(
                f"the {what} {uri} is not indexed and its repo's PDS endpoint is refused "
                f"({e.details['reason']})"
            ) from e
        except AtprotoError as e:
            raise UpstreamUnavailable(f"cannot fetch the {what} {uri}: {e.message}") from e
        try:
            honest = record_cid(view.value) == view.cid
        except InvalidSyntaxError:
            honest = False
        if not honest:
            raise UpstreamUnavailable(f"the PDS served a {what} that does not hash to its CID")
        return view.value
