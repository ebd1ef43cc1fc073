"""RecordValidator: the fast path (generated lexicon checks) gives the slow path's verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.crypto import SigningKey
from cocore.lexicon import LexiconRegistry, ids
from cocore.syntax import InvalidSyntaxError, parse_tid
from services.appview.validate import Accepted, RecordValidator, Rejected
from tests.lib.test_lexicon_fast import VALUES, mutated, paths
from tests.services.appview.chain import Rec, chain

PROVIDER = "did:plc:provaaaaaaaaaaaaaaaaaaaa"
REQUESTER = "did:plc:reqsaaaaaaaaaaaaaaaaaaaa"
EXCHANGE = "did:plc:exchaaaaaaaaaaaaaaaaaaaa"
CHAIN = chain(
    provider=PROVIDER,
    requester=REQUESTER,
    exchange=EXCHANGE,
    provider_key=SigningKey.generate(),
    exchange_key=SigningKey.generate(),
    now=datetime(2026, 11, 21, tzinfo=UTC),
)
RECORDS: list[Rec] = [rec for recs in CHAIN.by_repo().values() for rec in recs]
SLOW = LexiconRegistry.load(fast_paths=False)


def validators(**options: Any) -> tuple[RecordValidator, RecordValidator]:
    return RecordValidator(**options), RecordValidator(registry=SLOW, **options)


def test_the_chain_is_accepted_with_its_columns() -> None:
    fast, slow = validators()
    for rec in RECORDS:
        verdict = fast.check(rec.collection, rec.repo, rec.rkey, rec.value)
        assert isinstance(verdict, Accepted), (rec.collection, verdict)
        assert verdict == slow.check(rec.collection, rec.repo, rec.rkey, rec.value)


RECEIPT = CHAIN.receipt.value
JOB_URI = CHAIN.receipt.value["job"]["uri"]


@pytest.mark.parametrize(
    ("record", "detail"),
    [
        ({**RECEIPT, "provider": REQUESTER}, "receipt.provider is not this repo"),
        ({**RECEIPT, "requester": EXCHANGE}, "receipt.requester is not the repo holding the job"),
        (
            {**RECEIPT, "job": {**RECEIPT["job"], "uri": f"at://{REQUESTER}"}},
            "job is not a record URI",
        ),
        (
            {**RECEIPT, "job": {**RECEIPT["job"], "uri": JOB_URI.replace(".job/", ".dispute/")}},
            f"job points at a {ids.COMPUTE_DISPUTE}, not a {ids.COMPUTE_JOB}",
        ),
        (
            {**RECEIPT, "attestation": CHAIN.job.ref},
            f"attestation points at a {ids.COMPUTE_JOB}, not a {ids.COMPUTE_ATTESTATION}",
        ),
    ],
)
def test_receipt_ownership_reasons(record: dict[str, Any], detail: str) -> None:
    fast, slow = validators()
    verdict = fast.check(ids.COMPUTE_RECEIPT, PROVIDER, CHAIN.receipt.rkey, record)
    assert verdict == Rejected("owner-mismatch", detail)
    assert verdict == slow.check(ids.COMPUTE_RECEIPT, PROVIDER, CHAIN.receipt.rkey, record)


def test_a_lone_surrogate_in_an_undeclared_field_is_not_canonical() -> None:
    fast, slow = validators()
    record = {**RECEIPT, "note": "\ud800"}
    verdict = fast.check(ids.COMPUTE_RECEIPT, PROVIDER, CHAIN.receipt.rkey, record)
    assert isinstance(verdict, Rejected) and verdict.reason == "not-canonical"
    assert verdict == slow.check(ids.COMPUTE_RECEIPT, PROVIDER, CHAIN.receipt.rkey, record)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_records_get_the_slow_paths_verdict(data: st.DataObject) -> None:
    rec = data.draw(st.sampled_from(RECORDS))
    record = rec.value
    for _ in range(data.draw(st.integers(0, 2))):
        path = data.draw(st.sampled_from([*paths(record), "extra"]))
        record = mutated(record, path, data.draw(VALUES))
    repo = data.draw(st.sampled_from([rec.repo, PROVIDER, REQUESTER, EXCHANGE]))
    options = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "max_record_bytes": st.integers(300, 3000),
                "exchanges": st.sampled_from([(EXCHANGE,), (PROVIDER,)]),
            },
        )
    )
    fast, slow = validators(**options)
    verdict = fast.check(rec.collection, repo, rec.rkey, record)
    assert verdict == slow.check(rec.collection, repo, rec.rkey, record)


@settings(max_examples=300, deadline=None)
@given(st.text("234567abcdefghijklmnopqrstuvwxyzA-_.:~\u00e9", min_size=12, max_size=14))
def test_record_keys_are_tids_exactly_as_syntax_says(rkey: str) -> None:
    try:
        parse_tid(rkey)
    except InvalidSyntaxError:
        tid = False
    else:
        tid = True
    verdict = RecordValidator().check(ids.COMPUTE_JOB, REQUESTER, rkey, CHAIN.job.value)
    assert isinstance(verdict, Accepted) == tid
    assert tid or verdict == Rejected(
        "rkey-invalid", f"{ids.COMPUTE_JOB} records are keyed by TID, got {rkey[:20]!r}"
    )
