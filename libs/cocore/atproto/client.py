"""The record API for one account's repo, plus unauthenticated reads of any repo on a PDS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from cocore.errors import InvalidInput
from cocore.syntax import Cid, Did, Nsid

from . import records as r
from ._closing import AsyncCloseable
from .errors import AtprotoError
from .session import Session, SessionListener, SessionManager, create_account, create_session
from .xrpc import ParamValue, XrpcClient

_REPO = "com.atproto.repo."
# The PDS only knows the lexicons it ships; `validate: true` on ours is a 400.
_UNVALIDATED_PREFIX = "dev.cocore."


class NotLoggedIn(AtprotoError, InvalidInput):
    default_code = "not_logged_in"


class AtprotoClient(AsyncCloseable):
    """Talks to one PDS. Writes go to the logged-in account's repo; reads take any repo."""

    def __init__(
        self,
        xrpc: XrpcClient,
        session: Session | None = None,
        *,
        on_session_change: SessionListener | None = None,
    ) -> None:
        self.xrpc = xrpc
        self._sessions = (
            SessionManager(xrpc, session, on_session_change) if session is not None else None
        )

    @classmethod
    def anonymous(cls, pds_url: str, **xrpc_options: Any) -> AtprotoClient:
        return cls(XrpcClient(pds_url, **xrpc_options))

    @classmethod
    async def login(
        cls, pds_url: str, identifier: str, password: str, **xrpc_options: Any
    ) -> AtprotoClient:
        """Log in with a handle or DID (`com.atproto.server.createSession`)."""
        xrpc = XrpcClient(pds_url, **xrpc_options)
        return cls(xrpc, await _or_close(xrpc, create_session(xrpc, identifier, password)))

    @classmethod
    async def signup(
        cls, pds_url: str, handle: str, email: str, password: str, **xrpc_options: Any
    ) -> AtprotoClient:
        """Create an account (no invite: the dev PDS) and return a client logged in as it."""
        xrpc = XrpcClient(pds_url, **xrpc_options)
        return cls(xrpc, await _or_close(xrpc, create_account(xrpc, handle, email, password)))

    async def aclose(self) -> None:
        await self.xrpc.aclose()

    # ------------------------------------------------------------ session

    @property
    def session(self) -> Session:
        return self._manager().session

    @property
    def did(self) -> Did:
        return self._manager().session.did

    def _manager(self) -> SessionManager:
        if self._sessions is None:
            raise NotLoggedIn("this client has no session; log in first")
        return self._sessions

    async def refresh_session(self) -> Session:
        return await self._manager().refresh()

    async def query(self, method: str, params: Mapping[str, ParamValue] | None = None) -> Any:
        """An authenticated query; the session is refreshed once if the token expired."""
        return await self._manager().call(lambda t: self.xrpc.query(method, params, auth=t))

    async def procedure(self, method: str, body: Mapping[str, Any] | None = None) -> Any:
        """An authenticated procedure; the session is refreshed once if the token expired."""
        return await self._manager().call(lambda t: self.xrpc.procedure(method, body, auth=t))

    # ------------------------------------------------------------ writes (own repo)

    async def create_record(
        self,
        collection: Nsid,
        record: Mapping[str, Any],
        rkey: r.Rkey | None = None,
        validate: bool = False,
        *,
        swap_commit: Cid | None = None,
    ) -> r.WriteResult:
        """Create a record (`$type` defaults to the collection); fails if `rkey` is taken."""
        body = self._write_body(collection, validate, swapCommit=swap_commit)
        body.update(record=r.with_type(collection, record), rkey=rkey)
        what = _REPO + "createRecord"
        return r.write_result(await self.procedure(what, _compact(body)), what)

    async def put_record(
        self,
        collection: Nsid,
        rkey: r.Rkey,
        record: Mapping[str, Any],
        swap_record: Cid | None = None,
        *,
        validate: bool = False,
        swap_commit: Cid | None = None,
    ) -> r.WriteResult:
        """Create or replace; with `swap_record`, only if the current CID is that one."""
        body = self._write_body(
            collection, validate, swapRecord=swap_record, swapCommit=swap_commit
        )
        body.update(rkey=rkey, record=r.with_type(collection, record))
        what = _REPO + "putRecord"
        return r.write_result(await self.procedure(what, _compact(body)), what)

    async def delete_record(
        self, collection: Nsid, rkey: r.Rkey, swap_record: Cid | None = None
    ) -> r.DeleteResult:
        body = self._write_body(collection, False, swapRecord=swap_record)
        await self.procedure(_REPO + "deleteRecord", _compact({**body, "rkey": rkey}))
        return r.DeleteResult(r.record_uri(self.did, collection, rkey))

    async def apply_writes(
        self, writes: Sequence[r.Write], *, validate: bool = False, swap_commit: Cid | None = None
    ) -> list[r.WriteResult | r.DeleteResult]:
        """Several creates/updates/deletes in one commit; one result per write, in order."""
        batch = list(writes)
        for w in batch:
            _check_validate(w.collection, validate)
        body = {"repo": self.did, "validate": validate, "swapCommit": swap_commit}
        body["writes"] = [r.write_json(w) for w in batch]
        what = r.APPLY_WRITES
        return r.apply_results(self.did, batch, await self.procedure(what, _compact(body)), what)

    def _write_body(self, collection: Nsid, validate: bool, **swaps: Cid | None) -> dict[str, Any]:
        _check_validate(collection, validate)
        return {"repo": self.did, "collection": collection, "validate": validate, **swaps}

    # ------------------------------------------------------------ reads (any repo, no auth)

    async def get_record(
        self, repo: Did, collection: Nsid, rkey: r.Rkey, cid: Cid | None = None
    ) -> r.RecordView:
        """One record; `XrpcNotFound` (a `NotFound`) when it does not exist."""
        params: dict[str, ParamValue] = {"repo": repo, "collection": collection, "rkey": rkey}
        params["cid"] = cid
        what = _REPO + "getRecord"
        return r.record_view(await self.xrpc.query(what, params), what)

    async def list_records(
        self,
        repo: Did,
        collection: Nsid,
        limit: int = 50,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> r.RecordPage:
        """One page (at most `limit`, 1-100) of a collection, newest first unless `reverse`."""
        params: dict[str, ParamValue] = {"repo": repo, "collection": collection, "limit": limit}
        params.update(cursor=cursor, reverse=reverse or None)
        what = _REPO + "listRecords"
        return r.record_page(await self.xrpc.query(what, params), what)

    async def iter_records(
        self, repo: Did, collection: Nsid, *, page_size: int = 100, reverse: bool = False
    ) -> AsyncIterator[r.RecordView]:
        """Every record of a collection, fetching pages lazily."""
        cursor: str | None = None
        while True:
            page = await self.list_records(repo, collection, page_size, cursor, reverse)
            for view in page.records:
                yield view
            if page.cursor is None or not page.records:
                return
            cursor = page.cursor

    async def describe_repo(self, repo: Did) -> r.RepoDescription:
        what = _REPO + "describeRepo"
        return r.repo_description(await self.xrpc.query(what, {"repo": repo}), what)

    async def get_repo(self, did: Did, since: str | None = None) -> bytes:
        """The whole repo (or the diff since a rev) as CAR bytes (`com.atproto.sync.getRepo`)."""
        return await self.xrpc.query_bytes("com.atproto.sync.getRepo", {"did": did, "since": since})


def _check_validate(collection: Nsid, validate: bool) -> None:
    if validate and collection.startswith(_UNVALIDATED_PREFIX):
        raise InvalidInput(
            f"validate=True for {collection}: the PDS rejects lexicons it does not know",
            code="validate_unknown_lexicon",
        )


def _compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


async def _or_close(xrpc: XrpcClient, pending: Any) -> Session:
    try:
        session: Session = await pending
    except BaseException:
        await xrpc.aclose()
        raise
    return session
