"""Signing an account in: an app-password session at the PDS the DID document names.

The gateway only ever contacts the PDS a DID resolves to (a handle is resolved by the
gateway's configured PDS), never a URL a client supplies.
"""

from __future__ import annotations

from cocore.atproto import (
    AtprotoClient,
    AtprotoError,
    IdentityResolver,
    XrpcClient,
    XrpcUnauthenticated,
    resolve_handle,
)
from cocore.errors import InvalidInput
from cocore.syntax import Did, parse_did, parse_handle

from .accounts import Account
from .credentials import Credentials
from .errors import InvalidApiKey, InvalidRequest, Unavailable


async def login(
    identifier: str, password: str, resolver: IdentityResolver, handle_pds: str
) -> tuple[Account, Credentials]:
    did = await _did(identifier, handle_pds)
    pds = await resolver.pds_endpoint(did)
    if pds is None:
        raise InvalidRequest(f"{did} names no PDS", param="identifier")
    try:
        client = await AtprotoClient.login(pds, str(did), password, transport=resolver.transport())
    except XrpcUnauthenticated:
        raise InvalidApiKey("the PDS refused this identifier and password",
                            code="invalid_credentials") from None  # fmt: skip
    except AtprotoError as e:
        raise Unavailable(f"the PDS did not answer ({e.code})", code="pds_unavailable") from e
    try:
        session = client.session
    finally:
        await client.aclose()
    if str(session.did) != str(did):
        raise InvalidApiKey("the PDS logged in another account", code="invalid_credentials")
    account = Account(str(did), session.handle, pds)
    return account, Credentials(str(did), password, session.access_jwt, session.refresh_jwt)


async def _did(identifier: str, handle_pds: str) -> Did:
    try:
        if identifier.startswith("did:"):
            return parse_did(identifier)
        handle = parse_handle(identifier)
    except InvalidInput:
        raise InvalidRequest("identifier must be a handle or a DID", param="identifier") from None
    xrpc = XrpcClient(handle_pds)
    try:
        return await resolve_handle(xrpc, handle)
    except AtprotoError:
        raise InvalidRequest(f"cannot resolve the handle {identifier}",
                             param="identifier") from None  # fmt: skip
    finally:
        await xrpc.aclose()
