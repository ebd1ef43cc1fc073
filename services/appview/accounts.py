"""Account-level queries: profiles, the account directory and the friend graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from cocore.storage import Database
from cocore.syntax import format_datetime

from .aggregates import Aggregates
from .cursors import decode_cursor, encode_cursor
from .db import friends, profiles, providers, receipts, repos
from .errors import ProfileNotFound
from .read import RecordReader

_MACHINE_FIELDS = ("machineLabel", "chip", "ramGB", "supportedModels", "active", "createdAt",
                   "trustLevel")  # fmt: skip
MAX_MACHINES = 100


class AccountQueries:
    def __init__(
        self, db: Database, reader: RecordReader, aggregates: Aggregates,
        clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        self.db, self.reader, self.aggregates, self._clock = db, reader, aggregates, clock

    async def get_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        did = p["did"]
        async with self.db.session() as s:
            repo = (await s.execute(select(repos).where(repos.c.did == did))).first()
            if repo is None or not repo.active:
                raise ProfileNotFound(f"no cocore footprint for {did}")
            profile = (
                await s.execute(select(profiles.c.body).where(profiles.c.repo == did))
            ).first()
            machines = (await s.execute(
                select(providers.c.rkey, providers.c.body).where(providers.c.repo == did)
                .order_by(providers.c.id.desc()).limit(MAX_MACHINES)
            )).all()  # fmt: skip
        body = json.loads(profile.body) if profile is not None else {}
        out: dict[str, Any] = {
            "did": did,
            "handle": body.get("handle") or repo.handle,
            "displayName": body.get("displayName"),
            "bio": body.get("bio"),
            "avatarUrl": body.get("avatarUrl"),
            "joinedAt": format_datetime(repo.first_seen_at),
            "lastActivityAt": format_datetime(repo.last_activity_at),
            "machines": [_machine(m.rkey, json.loads(m.body)) for m in machines],
            "jobCount": repo.job_count,
            "receiptCount": repo.receipt_count,
            "incomingFriendsCount": await self.reader.incoming_friend_count(did),
            "latency": await self.aggregates.latency_stats(receipts.c.repo == did),
        }
        return {"profile": {k: v for k, v in out.items() if v is not None}}

    async def list_accounts(self, p: dict[str, Any]) -> dict[str, Any]:
        newest = p["sortBy"] == "newest"
        key = repos.c.first_seen_at if newest else repos.c.last_activity_at
        filters = self._account_filters(p)
        pc = profiles.c
        query = (
            select(repos, pc.display_name, pc.avatar_url, pc.handle.label("ph"))
            .outerjoin(profiles, profiles.c.repo == repos.c.did)
            .where(*filters)
            .order_by(key.desc(), repos.c.did.desc())
        )  # fmt: skip
        if p["cursor"]:
            ts, did = decode_cursor(p["cursor"], str, str)
            moment = datetime.fromisoformat(ts)
            query = query.where(or_(key < moment, and_(key == moment, repos.c.did < did)))
        else:
            query = query.offset(p["offset"])
        limit = p["limit"]
        async with self.db.session() as s:
            rows = (await s.execute(query.limit(limit + 1))).all()
            total = (
                await s.execute(select(func.count()).select_from(repos).where(*filters))
            ).scalar_one()
        out: dict[str, Any] = {
            "accounts": [_account(r) for r in rows[:limit]],
            "total": int(total), "limit": limit, "offset": p["offset"], "sortBy": p["sortBy"],
            "providersOnly": p["providersOnly"], "excludeViewerFriends": p["excludeViewerFriends"],
        }  # fmt: skip
        if "q" in p:
            out["q"] = p["q"]
        if len(rows) > limit:
            last = rows[limit - 1]
            moment = last.first_seen_at if newest else last.last_activity_at
            out["cursor"] = encode_cursor(moment.isoformat(), last.did)
        return out

    def _account_filters(self, p: dict[str, Any]) -> list[Any]:
        filters: list[Any] = [repos.c.active.is_(True)]
        if p["providersOnly"]:
            filters.append(repos.c.provider_count > 0)
        viewer = p.get("viewerDid")
        if viewer is not None:
            filters.append(repos.c.did != viewer)
            if p["excludeViewerFriends"]:
                filters.append(~exists().where(
                    friends.c.repo == viewer, friends.c.subject == repos.c.did
                ))  # fmt: skip
        q = (p.get("q") or "").removeprefix("@").lower()
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            filters.append(or_(
                func.lower(repos.c.handle).like(pattern, escape="\\"),
                repos.c.did.like(pattern, escape="\\"),
            ))  # fmt: skip
        return filters

    async def list_incoming_friends(self, p: dict[str, Any]) -> dict[str, Any]:
        records, cursor = await self.reader.friend_edges(p["did"], p["limit"], p["cursor"])
        out: dict[str, Any] = {
            "friends": [_edge(r.repo, r.uri, r.body, with_uri=True) for r in records],
            "total": await self.reader.incoming_friend_count(p["did"]),
        }
        if cursor is not None:
            out["cursor"] = cursor
        return out

    async def list_friend_edges(self, p: dict[str, Any]) -> dict[str, Any]:
        records, cursor = await self.reader.friend_edges(None, p["limit"], p["cursor"])
        out: dict[str, Any] = {
            "edges": [_edge(r.repo, r.uri, r.body, with_uri=False) for r in records],
            "total": await self.reader.friend_edge_count(),
        }
        if cursor is not None:
            out["cursor"] = cursor
        return out


def _machine(rkey: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"rkey": rkey, **{k: body[k] for k in _MACHINE_FIELDS if k in body}}


def _account(row: Any) -> dict[str, Any]:
    out = {
        "did": row.did,
        "handle": row.ph or row.handle,
        "displayName": row.display_name,
        "avatarUrl": row.avatar_url,
        "joinedAt": format_datetime(row.first_seen_at),
        "lastActivityAt": format_datetime(row.last_activity_at),
        "providerCount": int(row.provider_count),
        "isProvider": row.provider_count > 0,
    }
    return {k: v for k, v in out.items() if v is not None}


def _edge(friender: str, uri: str, body: bytes, *, with_uri: bool) -> dict[str, Any]:
    record = json.loads(body)
    out = {"friender": friender, "subject": record["subject"], "createdAt": record["createdAt"]}
    if with_uri:
        out["uri"] = uri
    return out
