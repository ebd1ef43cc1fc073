"""The records the agent signs, checked offline: honest attestations, receipts that pass the
strict verifier, params in milliunits with schema hashes, and the provider record merge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cocore.crypto import SealScheme, sha256_hex
from cocore.lexicon import default_registry, ids
from cocore.syntax import parse_at_uri, record_cid
from cocore.verify import StrictOptions, check_attestation_signature, verify_receipt_strict
from services.provider.engine import EngineFault
from services.provider.errors import AttestationUnusable
from services.provider.link import JobFailure, JobRequest
from services.provider.records.attestation import build_attestation, code_hash
from services.provider.records.pricing import TokenRate
from services.provider.records.provider_fields import MachineState, provider_fields
from services.provider.records.provider_record import merge
from services.provider.records.receipt import ServedJob, build_receipt, generation_params

from . import factory as f

RATE = TokenRate(1_000_000, 3_000_000, "CC")


def served(record: dict[str, object], **over: object) -> ServedJob:
    base = dict(
        job=f.job_ref(record), requester=f.REQUESTER, model="fake",
        input_commitment=record["inputCommitment"], output_commitment="11" * 32,
        output_cipher_commitment="22" * 32, reasoning_commitment=None,
        params={"maxTokens": 64}, tokens_in=10, tokens_out=5,
        started_at=f.T0 + timedelta(minutes=1), completed_at=f.T0 + timedelta(minutes=2),
    )  # fmt: skip
    base.update(over)
    return ServedJob(**base)  # type: ignore[arg-type]


def test_a_receipt_passes_the_strict_verifier_and_its_cid_is_the_pds_one(tmp_path: Path) -> None:
    kd = f.keys(tmp_path)
    att = f.attestation(kd)
    job = f.job_record(b"prompt")
    signed = build_receipt(served(job), RATE, att, f.PROVIDER, kd.signing)
    assert signed.cid == str(record_cid(signed.record))
    assert str(parse_at_uri(signed.uri).rkey) == signed.rkey  # a RecordKey vs a Tid: as str
    assert signed.record["price"] == {"amount": 25, "currency": "CC"}  # 10·1 + 5·3
    assert signed.record["job"] == {"uri": signed.record["job"]["uri"], "cid": str(record_cid(job))}
    verdict = verify_receipt_strict(
        signed.record, job, att.record,
        StrictOptions(expected_provider=f.PROVIDER, receipt_uri=parse_at_uri(signed.uri)),
    )  # fmt: skip
    assert verdict.ok, verdict.to_json()


def test_pro_bono_receipts_carry_zero_and_say_so(tmp_path: Path) -> None:
    kd = f.keys(tmp_path)
    job = f.job_record(b"p")
    att = f.attestation(kd)
    record = build_receipt(served(job, pro_bono=True), RATE, att, f.PROVIDER, kd.signing).record
    assert record["proBono"] is True and record["price"]["amount"] == 0
    assert record["tokens"] == {"in": 0, "out": 0}
    assert verify_receipt_strict(record, job, att.record, StrictOptions(f.PROVIDER)).ok


def test_a_receipt_never_references_an_attestation_outside_its_window(tmp_path: Path) -> None:
    kd = f.keys(tmp_path)
    att = f.attestation(kd, hours=1)
    late = served(f.job_record(b"p"), completed_at=f.T0 + timedelta(hours=1, seconds=1))
    with pytest.raises(AttestationUnusable):
        build_receipt(late, RATE, att, f.PROVIDER, kd.signing)
    early = served(f.job_record(b"p"), completed_at=f.T0 - timedelta(seconds=1))
    with pytest.raises(AttestationUnusable):
        build_receipt(early, RATE, att, f.PROVIDER, kd.signing)


def job(**over: object) -> JobRequest:
    base = dict(job_id="j", requester_did=f.REQUESTER, model="fake", sealed_input=b"",
                requester_pub_key="", enc_scheme=SealScheme.X25519, max_tokens=64)  # fmt: skip
    base.update(over)
    return JobRequest(**base)  # type: ignore[arg-type]


def test_params_are_milliunits_with_the_schema_hashes() -> None:
    schema = {"name": "answer", "strict": True, "schema": {"type": "object"}}
    tools = [{"type": "function", "function": {"name": "f"}}]
    params = generation_params(job(temperature_milli=700, top_p_milli=950, seed=3,
                                   output_schema=schema, tools=tools))  # fmt: skip
    schema_json = b'{"name":"answer","schema":{"type":"object"},"strict":true}'
    assert params == {
        "maxTokens": 64, "temperatureMilli": 700, "topPMilli": 950, "seed": 3,
        "outputSchemaHash": sha256_hex(schema_json),
        "toolSchemaHash": sha256_hex(b'[{"function":{"name":"f"},"type":"function"}]'),
    }  # fmt: skip
    assert generation_params(job()) == {"maxTokens": 64}


def test_a_schema_that_cannot_be_hashed_fails_the_job_instead_of_dropping_the_hash() -> None:
    with pytest.raises(JobFailure) as e:
        generation_params(job(output_schema={"schema": {"maximum": 0.5}}))
    assert e.value.code == "invalid_request"


def test_the_attestation_claims_only_what_was_measured(tmp_path: Path) -> None:
    kd = f.keys(tmp_path)
    linux = build_attestation(f.LINUX, kd, f.PROVIDER, code_hash="ab" * 32, now=f.T0,
                              validity_s=86400)  # fmt: skip
    assert linux["sipEnabled"] is False and linux["authenticatedRootEnabled"] is False
    assert linux["secureBootEnabled"] is False and linux["secureEnclaveAvailable"] is False
    assert linux["tier"] == "best-effort" and "encScheme" not in linux
    assert not {"cdHash", "hardenedRuntime", "inProcessBackend", "antiDebug", "mdaCertChain",
                "appAttest", "rdmaDisabled"} & set(linux)  # fmt: skip
    assert linux["expiresAt"] == "2026-05-08T12:00:00.000Z"
    assert check_attestation_signature(linux).valid
    assert default_registry().validate_record(ids.COMPUTE_ATTESTATION, linux) == []
    mac = build_attestation(f.MAC, kd, f.PROVIDER, code_hash="ab" * 32, now=f.T0,
                            validity_s=86400)  # fmt: skip
    assert mac["sipEnabled"] is True and mac["authenticatedRootEnabled"] is True
    assert mac["secureBootEnabled"] is False  # not measurable here, so never claimed
    p256 = f.keys(tmp_path, SealScheme.P256_ECIES_SE)
    assert build_attestation(f.LINUX, p256, f.PROVIDER, code_hash="ab" * 32, now=f.T0,
                             validity_s=60)["encScheme"] == "p256-ecies-se"  # fmt: skip


def test_the_code_hash_covers_the_agent_code(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    first = code_hash((pkg,))
    (pkg / "a.py").write_text("x = 2\n")
    assert code_hash((pkg,)) != first and len(first) == 64


def test_provider_fields_are_honest_and_valid(tmp_path: Path) -> None:
    kd = f.keys(tmp_path)
    fault = EngineFault("big", "model-load-failed", "out of memory")
    state = MachineState(("fake",), provisioning=False, serving=True, faults={"big": fault})
    fields = provider_fields(f.MAC, kd, f.PROVIDER, label="Mac", binary_version="0.1.0",
                             rate=RATE, state=state, now=f.T0)  # fmt: skip
    assert fields["trustLevel"] == "self-attested" and fields["tier"] == "best-effort"
    assert fields["supportedModels"] == ["fake"] and fields["priceList"][0]["modelId"] == "fake"
    assert fields["engineFault"]["models"] == ["big"]
    assert fields["modelIdentifier"] == "Mac14,3"
    record = merge(None, fields)
    assert default_registry().validate_record(ids.COMPUTE_PROVIDER, record) == []


def test_merge_keeps_owner_fields_and_drops_agent_fields_no_longer_emitted() -> None:
    current = {
        "$type": ids.COMPUTE_PROVIDER, "createdAt": "2026-01-01T00:00:00.000Z",
        "active": False, "proBono": {"mode": "any"}, "desiredModels": ["x"], "unknownExtra": 1,
        "engineFault": {"code": "model-load-failed", "message": "m", "at": "2026-01-01T00:00:00Z"},
        "supportedModels": ["old"],
    }  # fmt: skip
    agent = {"supportedModels": ["new"], "active": True, "proBono": None, "serving": True,
             "createdAt": "2027-01-01T00:00:00.000Z"}  # fmt: skip
    merged = merge(current, agent)
    assert merged["active"] is False and merged["proBono"] == {"mode": "any"}
    assert merged["desiredModels"] == ["x"] and merged["unknownExtra"] == 1
    assert "engineFault" not in merged and merged["supportedModels"] == ["new"]
    assert merged["serving"] is True
    assert merged["createdAt"] == "2026-01-01T00:00:00.000Z"  # the record's, kept
