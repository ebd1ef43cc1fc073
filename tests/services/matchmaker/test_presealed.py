"""A Dispatch that picks first: which candidates run on a presealed input, and its bounds."""

from __future__ import annotations

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.matchmaker.dispatch.pick import presealed_attempts
from services.matchmaker.dispatch.validate import validate_dispatch, validate_pick_dispatch
from services.matchmaker.errors import DispatchInvalid
from services.matchmaker.settings import JobSettings

DID_A, DID_B = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
REQUESTER = "did:plc:cccccccccccccccccccccccc"


def candidate(did: str, key: str, scheme: str = "x25519") -> pb.Candidate:
    return pb.Candidate(did=did, machine_id="m1", encryption_pub_key=key, enc_scheme=scheme,
                        lease=f"lease-{did[-1]}")  # fmt: skip


def sealed(did: str, key: str, blob: bytes = b"sealed", scheme: str = "") -> pb.Presealed:
    return pb.Presealed(did=did, machine_id="m1", encryption_pub_key=key, sealed_input=blob,
                        requester_pub_key="eph", enc_scheme=scheme)  # fmt: skip


def test_the_best_candidate_runs_on_its_presealed_input_with_the_picks_lease() -> None:
    picked = pb.PickResponse(candidates=[candidate(DID_A, "ka"), candidate(DID_B, "kb")])
    attempts = presealed_attempts(picked, [sealed(DID_B, "kb", b"b"), sealed(DID_A, "ka", b"a")])
    assert [(a.lease, a.sealed_input) for a in attempts] == [("lease-a", b"a"), ("lease-b", b"b")]


def test_later_candidates_without_a_preseal_are_left_out() -> None:
    picked = pb.PickResponse(candidates=[candidate(DID_A, "ka"), candidate(DID_B, "kb")])
    assert [a.lease for a in presealed_attempts(picked, [sealed(DID_A, "ka")])] == ["lease-a"]


@pytest.mark.parametrize(
    "presealed",
    [
        [],
        [sealed(DID_B, "kb")],  # only the second best: the pick's order is never displaced
        [sealed(DID_A, "old-key")],  # sealed to a key the machine no longer holds
        [sealed(DID_A, "ka", scheme="p256")],  # sealed under another scheme
    ],
)
def test_no_usable_preseal_for_the_best_candidate_means_seal_for_all(
    presealed: list[pb.Presealed],
) -> None:
    picked = pb.PickResponse(candidates=[candidate(DID_A, "ka"), candidate(DID_B, "kb")])
    assert presealed_attempts(picked, presealed) == []


def spec() -> pb.JobSpec:
    return pb.JobSpec(requester_did=REQUESTER, model="tiny",
                      sampling=pb.SamplingParams(max_tokens=4))  # fmt: skip


def test_a_picking_dispatch_is_bounded_before_anything_is_picked() -> None:
    s = JobSettings()
    pick = pb.PickRequest(model="tiny", requester_did=REQUESTER)
    validate_pick_dispatch(pb.DispatchRequest(spec=spec(), pick=pick,
                                              presealed=[sealed(DID_A, "ka")]), s)  # fmt: skip
    bad = [
        pb.DispatchRequest(spec=spec(), pick=pick, attempts=[pb.Attempt(lease="x")]),
        pb.DispatchRequest(spec=spec(), pick=pb.PickRequest(model="other",
                                                            requester_did=REQUESTER)),
        pb.DispatchRequest(spec=spec(), pick=pick,
                           presealed=[sealed(DID_A, "ka")] * (s.max_attempts + 1)),
        pb.DispatchRequest(spec=spec(), pick=pick, presealed=[sealed(DID_A, "")]),
        pb.DispatchRequest(spec=spec(), pick=pick, presealed=[sealed(DID_A, "ka", b"")]),
        pb.DispatchRequest(spec=spec(), pick=pick,
                           presealed=[sealed(DID_A, "ka", b"x" * (s.max_input_bytes + 1))]),
    ]  # fmt: skip
    for request in bad:
        with pytest.raises(DispatchInvalid):
            validate_pick_dispatch(request, s)
    attempt = pb.Attempt(lease="l", sealed_input=b"s", requester_pub_key="eph")
    with pytest.raises(DispatchInvalid, match="presealed"):  # presealed only with a pick
        request = pb.DispatchRequest(spec=spec(), attempts=[attempt],
                                     presealed=[sealed(DID_A, "ka")])  # fmt: skip
        validate_dispatch(request, s, single=False)
