"""The ledger state machine, one operation per row with the result it must give (TigerBeetle style).

Rows: `open OWNER [free]` opens CC:OWNER (free = may go negative, like the mint);
`T id debit credit amount [flags] [pending=ID] [timeout=S] -> RESULT` applies one transfer;
`chain` ... `end` applies the rows between as one linked chain; `tick S` moves the clock;
`expect OWNER dp dpo cp cpo` checks an account's four totals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.exchange.invariants import check_ledger
from services.exchange.ledger import Ledger, LedgerView
from services.exchange.ledger_types import (
    AccountFlags,
    AccountResult,
    Kind,
    Result,
    Transfer,
    TransferFlags,
    account_id,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLAGS = {"pending": TransferFlags.PENDING, "post": TransferFlags.POST_PENDING,
         "void": TransferFlags.VOID_PENDING}  # fmt: skip


def _transfer(words: list[str]) -> Transfer:
    tid, debit, credit, amount, *rest = words
    flags, pending_id, timeout = TransferFlags.NONE, None, 0
    for word in rest:
        if word in FLAGS:
            flags |= FLAGS[word]
        elif word.startswith("pending="):
            pending_id = word.split("=", 1)[1]
        elif word.startswith("timeout="):
            timeout = int(word.split("=", 1)[1])
    return Transfer(
        tid, account_id(debit, "CC") if debit != "-" else "",
        account_id(credit, "CC") if credit != "-" else "",
        int(amount), Kind.GRANT if debit == "@mint" else Kind.PAYOUT, flags, pending_id, timeout,
    )  # fmt: skip


def run(script: str) -> Ledger:
    view, now = LedgerView(), T0
    ledger = Ledger(view, now)
    chain: list[tuple[Transfer, Result]] | None = None
    for line_no, raw in enumerate(script.strip().splitlines(), 1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        op, *words = line.split()
        where = f"line {line_no}: {line}"
        if op == "open":
            flags = AccountFlags.NONE if "free" in words else (
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
            )  # fmt: skip
            result, _ = ledger.create_account(words[0], "CC", flags)
            assert result in (AccountResult.OK, AccountResult.EXISTS), where
        elif op == "tick":
            now += timedelta(seconds=int(words[0]))
            ledger.now = now
        elif op == "chain":
            chain = []
        elif op == "T":
            body, expected = " ".join(words).split("->")
            item = (_transfer(body.split()), Result[expected.strip()])
            if chain is not None:
                chain.append(item)
            else:
                assert ledger.create_transfers([item[0]]) == [item[1]], where
        elif op == "end":
            assert chain is not None
            got = ledger.create_transfers([t for t, _ in chain])
            assert got == [r for _, r in chain], where
            chain = None
        elif op == "expect":
            account = view.accounts[account_id(words[0], "CC")]
            totals = (account.debits_pending, account.debits_posted,
                      account.credits_pending, account.credits_posted)  # fmt: skip
            assert totals == tuple(int(w) for w in words[1:]), f"{where}: got {totals}"
        else:
            raise AssertionError(f"unknown row {where}")
    return ledger


def test_single_phase_transfers_and_overdraft() -> None:
    run("""
        open @mint free
        open alice
        open bob
        T t1 @mint alice 100 -> OK
        T t2 alice bob 60 -> OK
        T t3 alice bob 41 -> EXCEEDS_CREDITS       # only 40 left
        T t4 alice bob 40 -> OK
        expect alice 0 100 0 100
        expect bob 0 0 0 100
        T t5 alice alice 1 -> ACCOUNTS_MUST_BE_DIFFERENT
        T t6 alice carol 1 -> CREDIT_ACCOUNT_NOT_FOUND
        T t7 carol alice 1 -> DEBIT_ACCOUNT_NOT_FOUND
        T t8 @mint alice 0 -> AMOUNT_MUST_BE_POSITIVE
        T t9 @mint alice -5 -> AMOUNT_MUST_BE_POSITIVE
        T t10 @mint alice 9007199254740992 -> AMOUNT_TOO_LARGE
    """)


def test_idempotency_on_the_callers_id() -> None:
    run("""
        open @mint free
        open alice
        T g1 @mint alice 100 -> OK
        T g1 @mint alice 100 -> EXISTS
        T g1 @mint alice 101 -> EXISTS_WITH_DIFFERENT_AMOUNT
        T g1 @mint @mint 100 -> ACCOUNTS_MUST_BE_DIFFERENT
        expect alice 0 0 0 100
    """)


def test_hold_post_partial_releases_the_rest() -> None:
    run("""
        open @mint free
        open @escrow
        open alice
        T g @mint alice 1000 -> OK
        T h alice @escrow 300 pending timeout=60 -> OK
        expect alice 300 0 0 1000
        T x alice @escrow 701 -> EXCEEDS_CREDITS          # 300 of the 1000 is held
        T p - - 120 post pending=h -> OK
        expect alice 0 120 0 1000
        expect @escrow 0 0 0 120
        T p2 - - 1 post pending=h -> PENDING_TRANSFER_ALREADY_POSTED
        T v - - 0 void pending=h -> PENDING_TRANSFER_ALREADY_POSTED
        T p - - 120 post pending=h -> EXISTS                # replay of the post
    """)


def test_hold_void_and_expiry() -> None:
    run("""
        open @mint free
        open @escrow
        open alice
        T g @mint alice 1000 -> OK
        T h1 alice @escrow 300 pending timeout=60 -> OK
        T h2 alice @escrow 300 pending timeout=60 -> OK
        T v1 - - 0 void pending=h1 -> OK
        expect alice 300 0 0 1000
        T p1 - - 10 post pending=h1 -> PENDING_TRANSFER_ALREADY_VOIDED
        tick 60
        T p2 - - 10 post pending=h2 -> PENDING_TRANSFER_EXPIRED
        T v2 - - 0 void pending=h2 -> OK                   # the sweep releases it
        expect alice 0 0 0 1000
        T p3 - - 10 post pending=h2 -> PENDING_TRANSFER_EXPIRED
        T p4 - - 10 post pending=nope -> PENDING_TRANSFER_NOT_FOUND
        T h3 alice @escrow 10 pending -> TIMEOUT_REQUIRED_FOR_PENDING
        T h4 alice @escrow 10 timeout=5 -> TIMEOUT_RESERVED_FOR_PENDING
        T p5 - - 10 post -> PENDING_ID_REQUIRED
        T p6 alice @escrow 10 pending=h2 -> PENDING_ID_MUST_BE_EMPTY
        T h5 - - 10 post pending=h5 -> PENDING_ID_MUST_BE_DIFFERENT
        T h6 - - 10 post void pending=h2 -> FLAGS_ARE_MUTUALLY_EXCLUSIVE
    """)


def test_post_more_than_held_is_refused() -> None:
    run("""
        open @mint free
        open @escrow
        open alice
        T g @mint alice 1000 -> OK
        T h alice @escrow 100 pending timeout=60 -> OK
        T p - - 101 post pending=h -> EXCEEDS_PENDING_TRANSFER_AMOUNT
        T v - - 99 void pending=h -> EXCEEDS_PENDING_TRANSFER_AMOUNT
        T v - - 100 void pending=h -> OK
    """)


def test_a_failed_chain_changes_nothing() -> None:
    ledger = run("""
        open @mint free
        open @escrow
        open alice
        open bob
        open @treasury
        T g @mint alice 100 -> OK
        chain
        T c alice @escrow 99 -> OK
        T pay @escrow bob 95 -> OK
        T fee @escrow @treasury 4 -> OK
        end
        chain
        T c2 alice @escrow 1 -> LINKED_EVENT_FAILED
        T pay2 @escrow bob 2 -> EXCEEDS_CREDITS          # escrow only received 1
        T fee2 @escrow @treasury 0 -> LINKED_EVENT_FAILED
        end
        expect alice 0 99 0 100
        expect @escrow 0 99 0 99
        expect bob 0 0 0 95
        chain
        T c alice @escrow 99 -> EXISTS                    # a replayed chain is idempotent
        T pay @escrow bob 95 -> EXISTS
        T fee @escrow @treasury 4 -> EXISTS
        end
        chain
        T c alice @escrow 99 -> EXISTS                    # a half-replayed one is not
        T pay3 alice bob 1 -> LINKED_EVENT_FAILED
        end
    """)
    assert [t.id for t in ledger.delta().transfers] == ["g", "c", "pay", "fee"]
    assert check_ledger(ledger.view.accounts, ledger.delta().transfers, ledger.view.pending,
                        "CC") == []  # fmt: skip


@pytest.mark.parametrize(
    ("row", "result"),
    [
        ("T '' @mint alice 1", Result.ID_MUST_NOT_BE_EMPTY),
        ("T " + "x" * 513 + " @mint alice 1", Result.ID_TOO_LONG),
    ],
)
def test_ids_are_validated(row: str, result: Result) -> None:
    ledger = run("open @mint free\nopen alice")
    words = row.split()[1:]
    t = _transfer(["" if words[0] == "''" else words[0], *words[1:]])
    assert ledger.create_transfers([t]) == [result]


def test_account_creation_is_idempotent() -> None:
    ledger = Ledger(LedgerView(), T0)
    flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    assert ledger.create_account("did:plc:a", "CC", flags)[0] is AccountResult.OK
    assert ledger.create_account("did:plc:a", "CC", flags)[0] is AccountResult.EXISTS
    assert ledger.create_account("did:plc:a", "CC", AccountFlags.NONE)[0] is (
        AccountResult.EXISTS_WITH_DIFFERENT_FLAGS
    )
    assert ledger.create_account("", "CC", flags)[0] is AccountResult.ID_MUST_NOT_BE_EMPTY
    assert list(ledger.delta().created_accounts) == ["CC:did:plc:a"]
