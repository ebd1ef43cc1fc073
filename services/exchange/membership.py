"""First touch and refresh: the onboarding grant (exactly once, never to the treasury) and the
lazy weekly refresh, both minted from the mint account so Σ balances = Σ mints."""

from __future__ import annotations

from . import events
from .formulas import refresh_due
from .ledger_types import MINT, AccountFlags, Kind, Result, Transfer
from .records import grant_record, out_record
from .state import Batch, MemberRow

MEMBER_FLAGS = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def grant_id(did: str) -> str:
    return f"grant:{did}"


def touch(batch: Batch, did: str) -> bool:
    """Make `did` a member if it is new (grant) or refresh it if due; True when it was new."""
    if did == batch.context.treasury:
        # The treasury holds fees for patronage; granting it tokens would be a silent mint.
        batch.ledger.create_account(did, batch.context.currency, MEMBER_FLAGS)
        return False
    if did in batch.members:
        _refresh_if_due(batch, batch.members[did])
        return False
    _grant(batch, did)
    return True


def _grant(batch: Batch, did: str) -> None:
    batch.ledger.create_account(did, batch.context.currency, MEMBER_FLAGS)
    policy = batch.context.policy
    amount = policy.terms.token_grant
    member = MemberRow(did, batch.now, amount, batch.now, 0)
    batch.members[did] = member
    batch.new_members[did] = member
    if amount == 0:
        return
    account = batch.context.account
    grant = Transfer(grant_id(did), account(MINT), account(did), amount, Kind.GRANT,
                     reference=policy.ref.uri)  # fmt: skip
    results = batch.ledger.create_transfers([grant])
    assert results == [Result.OK], f"grant for a new member failed: {results}"
    record = grant_record(batch.context.exchange, did, amount, policy.ref, batch.now)
    batch.outbox.append(out_record(batch.context.exchange, record["$type"], batch.tid(), record))
    events.minted("grant", amount)


def _refresh_if_due(batch: Batch, member: MemberRow) -> None:
    terms = batch.context.policy.terms
    if terms.refresh_amount == 0:
        return
    if not refresh_due(member.last_refresh_at, batch.now, terms.refresh_cadence_minutes):
        return
    number = member.refreshes + 1
    account = batch.context.account
    refresh = Transfer(f"refresh:{member.did}:{number}", account(MINT),
                       account(member.did), terms.refresh_amount, Kind.REFRESH,
                       reference=batch.context.policy.ref.uri)  # fmt: skip
    results = batch.ledger.create_transfers([refresh])
    assert results == [Result.OK], f"refresh failed: {results}"
    member.last_refresh_at = batch.now
    member.refreshes = number
    batch.touched_members.add(member.did)
    events.minted("refresh", terms.refresh_amount)
