"""Policy and attestation versions: publish on a changed configuration, pin by time.

At start-up the configured terms are compared (by content hash) with the active policy. A
change publishes a new policy and flips the previous one to `active: false` (a new version
of its record, same rkey); an unchanged configuration publishes nothing. The exchange
attestation (signing key fingerprint, software version) follows the same rule per policy.
Settlements pin the policy in force when their receipt completed, and its attestation.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cocore.lexicon import ids
from cocore.storage import Database
from cocore.syntax import Did, parse_at_uri

from . import db, events
from .domain_sql import outbox_row
from .errors import NoPolicy
from .policy import PolicyTerms, content_hash
from .records import OutRecord, StrongRef, attestation_record, out_record, when
from .state import Context, PolicyVersion
from .writer import ADVISORY_LOCK

X = db.RECORDS
OUTBOX = db.OUTBOX


@dataclass
class Policies:
    """Every policy version published, oldest first, and each one's newest attestation."""

    exchange: Did
    versions: list[PolicyVersion] = field(default_factory=list)
    attestations: dict[str, StrongRef] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URI, as issued

    @property
    def current(self) -> PolicyVersion:
        if not self.versions:
            raise NoPolicy("the exchange has not published a policy yet")
        return self.versions[-1]

    def at(self, moment: datetime) -> PolicyVersion:
        """The version in force at `moment` (the first one for anything earlier)."""
        starts = [v.created_at for v in self.versions]
        index = bisect.bisect_right(starts, moment) - 1
        return self.versions[max(index, 0)] if self.versions else self.current

    def attestation_for(self, policy: PolicyVersion) -> StrongRef:
        return self.attestations[policy.ref.uri]

    def context(self) -> Context:
        policy = self.current
        return Context(self.exchange, policy.terms.treasury(self.exchange), policy,
                       self.attestation_for(policy))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attesting:
    """What the exchange attests about itself besides its policy."""

    software_version: str
    fingerprint: str
    audit_posture: str | None = None


async def publish_policy(
    database: Database,
    *,
    exchange: Did,
    terms: PolicyTerms,
    attesting: Attesting,
    now: datetime,
    tid: Callable[[], str],
) -> Policies:
    """Publish the configured policy and attestation if they changed; return every version."""
    async with database.transaction() as session:
        conn = await session.connection()
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
        out: list[OutRecord] = []
        policy = await _ensure_policy(
            conn, exchange=exchange, terms=terms, now=now, tid=tid, out=out
        )
        await _ensure_attestation(
            conn, exchange=exchange, policy=policy, attesting=attesting, now=now, tid=tid, out=out
        )
        if out:
            await conn.execute(insert(OUTBOX), [outbox_row(r, now) for r in out])
        return await load_policies(conn, exchange)


async def _ensure_policy(
    conn: AsyncConnection,
    *,
    exchange: Did,
    terms: PolicyTerms,
    now: datetime,
    tid: Callable[[], str],
    out: list[OutRecord],
) -> StrongRef:
    body = terms.body(exchange)
    digest = content_hash(body)
    active = (await conn.execute(select(X).where(
        X.c.collection == ids.COMPUTE_EXCHANGE_POLICY, X.c.active.is_(True)
    ))).first()  # fmt: skip
    if active is not None and active.content_hash == digest:
        return StrongRef(active.uri, active.cid)
    record = out_record(exchange, ids.COMPUTE_EXCHANGE_POLICY, tid(),
                        {**body, "active": True, "createdAt": when(now)})  # fmt: skip
    out.append(record)
    await _insert(conn, record, digest, now)
    if active is not None:
        rkey = parse_at_uri(active.uri).rkey
        out.append(out_record(exchange, ids.COMPUTE_EXCHANGE_POLICY, rkey,
                              {**active.record, "active": False}))  # fmt: skip
        await conn.execute(
            update(X).where(X.c.uri == active.uri).values(active=False, superseded_at=now)
        )
    events.policy_published(record.uri, 1 if active is not None else 0)
    return record.ref


async def _ensure_attestation(
    conn: AsyncConnection,
    *,
    exchange: Did,
    policy: StrongRef,
    attesting: Attesting,
    now: datetime,
    tid: Callable[[], str],
    out: list[OutRecord],
) -> None:
    digest = content_hash(
        {
            "policy": policy.to_json(),
            "software": attesting.software_version,
            "key": attesting.fingerprint,
            "posture": attesting.audit_posture,
        }
    )
    rows = (await conn.execute(select(X).where(
        X.c.collection == ids.COMPUTE_EXCHANGE_ATTESTATION, X.c.active.is_(True)
    ))).all()  # fmt: skip
    if any(r.content_hash == digest for r in rows):
        return
    body = attestation_record(
        exchange=exchange,
        policy=policy,
        software_version=attesting.software_version,
        fingerprint=attesting.fingerprint,
        audit_posture=attesting.audit_posture,
        created_at=now,
    )
    record = out_record(exchange, ids.COMPUTE_EXCHANGE_ATTESTATION, tid(), body)
    out.append(record)
    stale = [r.uri for r in rows if r.record["policy"]["uri"] == policy.uri]
    if stale:
        await conn.execute(
            update(X).where(X.c.uri.in_(stale)).values(active=False, superseded_at=now)
        )
    await _insert(conn, record, digest, now)


async def _insert(conn: AsyncConnection, record: OutRecord, digest: str, now: datetime) -> None:
    await conn.execute(insert(X).values(
        uri=record.uri, collection=record.collection, cid=record.cid, content_hash=digest,
        record=record.record, active=True, created_at=now, superseded_at=None,
    ))  # fmt: skip


async def load_policies(conn: AsyncConnection, exchange: Did) -> Policies:
    rows = (await conn.execute(select(X).order_by(X.c.created_at, X.c.uri))).all()
    policies = Policies(exchange)
    policies.records = {row.uri: row.record for row in rows}
    for row in rows:
        if row.collection == ids.COMPUTE_EXCHANGE_POLICY:
            terms = PolicyTerms.from_record(row.record)
            policies.versions.append(
                PolicyVersion(StrongRef(row.uri, row.cid), terms, row.created_at, row.superseded_at)
            )
    for row in rows:  # the newest attestation of each policy wins
        if row.collection == ids.COMPUTE_EXCHANGE_ATTESTATION:
            policies.attestations[row.record["policy"]["uri"]] = StrongRef(row.uri, row.cid)
    return policies
