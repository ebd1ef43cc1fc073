"""Accounts and keys over HTTP: the `dev.cocore.account.*` key procedures (XRPC) and the
gateway's `/v1/account/*` routes (login, status, terms, wipe)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cocore.lexicon import ids
from cocore.syntax import InvalidSyntaxError, parse_datetime

from .. import events
from ..errors import TermsNotAccepted
from ..fields import bad, integer, obj, text
from ..keys import NewKey
from ..login import login
from .body import read_json

if TYPE_CHECKING:
    from .app import Context

MAX_LIMIT = 10**12


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def create_api_key(request: Request) -> Response:
    ctx = _ctx(request)
    who = await ctx.auth.principal(request, str(ids.ACCOUNT_CREATE_API_KEY))
    body = obj(await read_json(request, 64 * 1024), "body")
    name = text(body, "name", "name", required=True, min_len=1, max_len=100)
    assert name is not None
    expires = text(body, "expiresAt", "expiresAt", max_len=64)
    try:
        expires_at = parse_datetime(expires).value if expires else None
    except InvalidSyntaxError:
        raise bad("expiresAt", "must be an RFC 3339 datetime") from None
    new = NewKey(
        name=name, expires_at=expires_at,
        requests_per_minute=integer(body, "requestsPerMinute", "requestsPerMinute", 0, 10**9),
        tokens_per_minute=integer(body, "tokensPerMinute", "tokensPerMinute", 0, MAX_LIMIT),
        budget=integer(body, "budget", "budget", 0, MAX_LIMIT),
    )  # fmt: skip
    view, secret = await ctx.keys.create(who.did, new)
    events.account_event("key_created", who.did)
    return JSONResponse({"key": view, "secret": secret})


async def list_api_keys(request: Request) -> Response:
    ctx = _ctx(request)
    who = await ctx.auth.principal(request, str(ids.ACCOUNT_LIST_API_KEYS))
    return JSONResponse({"keys": await ctx.keys.list_keys(who.did)})


async def revoke_api_key(request: Request) -> Response:
    ctx = _ctx(request)
    who = await ctx.auth.principal(request, str(ids.ACCOUNT_REVOKE_API_KEY))
    key_id = await _key_id(request)
    return JSONResponse({"revoked": await ctx.keys.revoke(who.did, key_id)})


async def delete_api_key(request: Request) -> Response:
    ctx = _ctx(request)
    who = await ctx.auth.principal(request, str(ids.ACCOUNT_DELETE_API_KEY))
    key_id = await _key_id(request)
    return JSONResponse({"deleted": await ctx.keys.delete(who.did, key_id) > 0})


async def _key_id(request: Request) -> str:
    body = obj(await read_json(request, 64 * 1024), "body")
    key_id = text(body, "id", "id", required=True, min_len=1, max_len=200)
    assert key_id is not None
    return key_id


async def account_login(request: Request) -> Response:
    """Store an app-password session for the account and mint a first key."""
    ctx = _ctx(request)
    body = obj(await read_json(request, 64 * 1024), "body")
    identifier = text(body, "identifier", "identifier", required=True, min_len=3, max_len=2048)
    password = text(body, "password", "password", required=True, min_len=1, max_len=1024)
    name = text(body, "keyName", "keyName", min_len=1, max_len=100) or "cocore cli"
    assert identifier is not None and password is not None
    account, credentials = await login(identifier, password, ctx.resolver, ctx.config.pds_url)
    await ctx.accounts.save(account, credentials)
    view, secret = await ctx.keys.create(account.did, NewKey(name=name))
    events.account_event("login", account.did)
    return JSONResponse({"did": account.did, "handle": account.handle, "pds": account.pds_url,
                         "key": view, "secret": secret})  # fmt: skip


async def account_status(request: Request) -> Response:
    ctx = _ctx(request)
    caller = await ctx.auth.caller(request)
    policy = await ctx.paid.policies.current()
    stored = await ctx.accounts.get(caller.did)
    balance = await ctx.exchange.balance(caller.did)
    accepted = True
    try:
        await ctx.paid.terms.require(caller.did, policy)
    except TermsNotAccepted:
        accepted = False
    out: dict[str, Any] = {
        "did": caller.did, "handle": stored[0].handle if stored else None,
        "credentialsStored": stored is not None,
        "balance": {"balance": balance.balance, "available": balance.available,
                    "held": balance.held, "currency": balance.currency},
        "terms": {"version": policy.terms_version, "uri": policy.terms_uri,
                  "accepted": accepted},
    }  # fmt: skip
    return JSONResponse(out)


async def accept_terms(request: Request) -> Response:
    """Have the exchange countersign an acceptance, and write it to the user's repo."""
    ctx = _ctx(request)
    caller = await ctx.auth.caller(request)
    body = obj(await read_json(request, 64 * 1024), "body")
    agent = text(body, "userAgent", "userAgent", max_len=512) or "cocore-gateway"
    policy = await ctx.paid.policies.current()
    record = await ctx.exchange.sign_terms(caller.did, agent)
    written = await ctx.accounts.with_client(
        caller.did, lambda c: c.create_record(ids.COMPUTE_TERMS_ACCEPTANCE, record)
    )
    ctx.paid.terms.accepted(caller.did, policy)
    events.account_event("terms_accepted", caller.did)
    return JSONResponse({"uri": str(written.uri), "cid": str(written.cid),
                         "termsVersion": record.get("termsVersion")})  # fmt: skip


async def wipe(request: Request) -> Response:
    """Forget the account here: every API key, the stored PDS login, queued records.

    The records in the user's own repo are deleted by the client holding the login
    (`cocore account wipe` does both); the AppView drops them from the firehose deletes.
    """
    ctx = _ctx(request)
    caller = await ctx.auth.caller(request)
    dropped = await ctx.outbox.drop_account(caller.did)
    deleted_keys = await ctx.keys.delete(caller.did)
    had_login = await ctx.accounts.delete(caller.did)
    ctx.paid.terms.forget()
    events.account_event("wiped", caller.did)
    return JSONResponse({
        "did": caller.did, "keysDeleted": deleted_keys, "credentialsDeleted": had_login,
        "queuedRecordsDropped": dropped,
    })  # fmt: skip
