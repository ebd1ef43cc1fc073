"""stream-resume-vectors.json: chunk acceptance, resume and completion rules."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.streamresume import (
    ChunkVerdict,
    ChunkWindow,
    ResumeStatus,
    decide_resume,
    provider_accepts_resume,
)
from tests.conftest import load_vector

VECTORS = load_vector("stream-resume-vectors.json")


@pytest.mark.parametrize("case", VECTORS["chunk"], ids=lambda c: c["name"])
def test_chunk(case: dict[str, Any]) -> None:
    window = ChunkWindow(case.get("nextSeq", 0))
    for seq in case.get("preAccept", []):
        assert window.offer(seq) is ChunkVerdict.ACCEPT
    verdict = window.offer(case["seq"])
    assert (verdict is ChunkVerdict.ACCEPT) == case["accept"]
    assert window.next_seq == case["nextSeqAfter"]
    if case.get("preAccept"):
        assert verdict is ChunkVerdict.DUPLICATE  # acknowledged, not re-delivered


@pytest.mark.parametrize("case", VECTORS["resume"], ids=lambda c: c["name"])
def test_resume(case: dict[str, Any]) -> None:
    if "advisorNextSeq" in case:
        decision = decide_resume(case["advisorNextSeq"], case["producedSeq"])
        assert decision.status == case["status"]
        assert decision.next_seq == case["nextSeq"]
        if decision.status is ResumeStatus.RESUME:
            assert list(decision.replay) == case["providerReplaysSeqs"]
            assert provider_accepts_resume(decision.status, decision.next_seq, case["producedSeq"])
        else:
            assert list(decision.replay) == []
            keeps = provider_accepts_resume(decision.status, decision.next_seq, case["producedSeq"])
            assert keeps == case["providerKeepsJob"]
    else:
        keeps = provider_accepts_resume(
            ResumeStatus(case["resultStatus"]), case["resultNextSeq"], case["providerProducedSeq"]
        )
        assert keeps == case["providerKeepsJob"]


@pytest.mark.parametrize("case", VECTORS["completion"], ids=lambda c: c["name"])
def test_completion(case: dict[str, Any]) -> None:
    assert ChunkWindow(case["nextSeq"]).completion_accepted(case["finalSeq"]) == case["accepted"]
