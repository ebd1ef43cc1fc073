"""The ledger's value types: accounts, transfers, flags, kinds and result codes (TigerBeetle-style).

An account holds four integer totals; its balance is `credits_posted - debits_posted` and
what it may still spend is that minus `debits_pending`. A transfer moves `amount` from its
debit account to its credit account, either at once or in two phases (pending, then post or
void). Results are values, ordered by precedence like TigerBeetle's, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag, StrEnum

# The closed-loop token, as the reference exchange names it. The published money schema asks
# for 3-8 characters; cocore.lexicon.errata relaxes that to 2 for CC (documented there).
DEFAULT_CURRENCY = "CC"
MAX_AMOUNT = (1 << 53) - 1  # every amount survives JSON and PostgreSQL BIGINT sums
MAX_TOTAL = (1 << 63) - 1  # an account total must fit a BIGINT column
MAX_ID_CHARS = 512


class AccountFlags(IntFlag):
    NONE = 0
    # Spending past what was credited is refused (every member, the treasury, escrow).
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1


class TransferFlags(IntFlag):
    NONE = 0
    PENDING = 1
    POST_PENDING = 2
    VOID_PENDING = 4


class PendingStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class Kind(StrEnum):
    """What a transfer is for; the journal is searchable by it."""

    GRANT = "grant"
    REFRESH = "refresh"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    FEE = "fee"
    PAYOUT = "payout"
    PATRONAGE = "patronage"
    REFUND = "refund"
    FORFEIT = "forfeit"


MINT_KINDS = (Kind.GRANT, Kind.REFRESH)


class AccountResult(IntEnum):
    OK = 0
    ID_MUST_NOT_BE_EMPTY = 1
    EXISTS_WITH_DIFFERENT_FLAGS = 2
    EXISTS_WITH_DIFFERENT_OWNER = 3
    EXISTS = 4


class Result(IntEnum):
    """Outcome of one transfer, in precedence order: the first failing check is reported."""

    OK = 0
    LINKED_EVENT_FAILED = 1
    ID_MUST_NOT_BE_EMPTY = 2
    ID_TOO_LONG = 3
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = 4
    AMOUNT_MUST_BE_POSITIVE = 5
    AMOUNT_TOO_LARGE = 6
    PENDING_ID_MUST_BE_EMPTY = 7
    PENDING_ID_REQUIRED = 8
    PENDING_ID_MUST_BE_DIFFERENT = 9
    TIMEOUT_RESERVED_FOR_PENDING = 10
    TIMEOUT_REQUIRED_FOR_PENDING = 11
    ACCOUNTS_MUST_BE_DIFFERENT = 12
    DEBIT_ACCOUNT_NOT_FOUND = 13
    CREDIT_ACCOUNT_NOT_FOUND = 14
    ACCOUNTS_MUST_HAVE_SAME_CURRENCY = 15
    PENDING_TRANSFER_NOT_FOUND = 16
    PENDING_TRANSFER_NOT_PENDING = 17
    EXISTS_WITH_DIFFERENT_FLAGS = 18
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT = 19
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT = 20
    EXISTS_WITH_DIFFERENT_AMOUNT = 21
    EXISTS_WITH_DIFFERENT_PENDING_ID = 22
    EXISTS_WITH_DIFFERENT_KIND = 23
    EXISTS_WITH_DIFFERENT_REFERENCE = 24
    EXISTS = 25
    PENDING_TRANSFER_ALREADY_POSTED = 26
    PENDING_TRANSFER_ALREADY_VOIDED = 27
    PENDING_TRANSFER_EXPIRED = 28
    PENDING_TRANSFER_NOT_EXPIRED = 29
    EXCEEDS_PENDING_TRANSFER_AMOUNT = 30
    OVERFLOWS_TOTAL = 31
    EXCEEDS_CREDITS = 32

    @property
    def applied(self) -> bool:
        """The transfer is in the journal: just now (OK) or by an identical earlier call."""
        return self in (Result.OK, Result.EXISTS)


def account_id(owner: str, currency: str) -> str:
    """One account per (owner, currency): `CC:did:plc:…`, or `CC:@mint` for system accounts."""
    return f"{currency}:{owner}"


MINT = "@mint"  # debited by every grant and refresh, so Σ member balances = Σ mints
ESCROW = "@escrow"  # holds credit it pending; captures pass through it to payout and fee


@dataclass(slots=True)
class Account:
    id: str
    owner: str
    currency: str
    flags: AccountFlags
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What the owner may still spend: the balance less what holds reserve."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def copy(self) -> Account:
        return Account(
            self.id,
            self.owner,
            self.currency,
            self.flags,
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """A journal entry. For post/void, the accounts may be left empty: the pending one's apply."""

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    kind: Kind
    flags: TransferFlags = TransferFlags.NONE
    pending_id: str | None = None
    timeout_s: int = 0
    reference: str = ""
    timestamp: datetime | None = None  # None until stored: a batch's entries share its `now`


@dataclass(slots=True)
class Pending:
    """The live state of a pending transfer (a hold)."""

    transfer: Transfer
    status: PendingStatus
    expires_at: datetime
