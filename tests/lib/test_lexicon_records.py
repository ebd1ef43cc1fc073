"""Every cocore record type against its lexicon: one valid record, many invalid, the vectors."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from cocore.lexicon import LexiconValidationError, ValidationIssue, default_registry, ids
from tests.conftest import load_vector

REG = default_registry()
RECEIPTS = load_vector("receipts.json")
BASE = RECEIPTS["scenarios"][0]

DID = "did:plc:vectorrequesteraaaaaaaaa"
EXCHANGE = "did:web:exchange.vectors.example"
CID = "bafyreiejuhw4mtmvatobeslpmz5rftqf7zzpqrunlrft2vfh3zhiciseju"
_REF = {
    "uri": "at://did:web:exchange.vectors.example/dev.cocore.compute.exchangePolicy/3mlb62rnec22b",
    "cid": CID,
}
AT = "2026-05-07T12:00:00Z"
DELETE = object()


def ref() -> dict[str, str]:
    """A fresh strongRef each time (deepcopy keeps shared dicts shared)."""
    return dict(_REF)


def b64(n: int) -> str:
    return base64.b64encode(b"\x01" * n).decode()


VALID: dict[str, dict[str, Any]] = {
    ids.ACCOUNT_FRIEND: {
        "subject": DID,
        "subjectHandle": "bob.test",
        "note": "hi",
        "createdAt": AT,
    },
    ids.ACCOUNT_PROFILE: {
        "displayName": "Alice",
        "bio": "runs a Mac Studio",
        "avatar": {"$type": "blob", "ref": {"$link": CID}, "mimeType": "image/png", "size": 1000},
        "avatarUrl": "https://cdn.example/a.png",
        "handle": "alice.test",
        "createdAt": AT,
        "updatedAt": AT,
    },
    ids.ACCOUNT_TOKEN_GRANT: {
        "exchange": EXCHANGE,
        "recipient": DID,
        "amount": 1000,
        "policy": ref(),
        "createdAt": AT,
    },
    ids.ACCOUNT_TOKEN_PATRONAGE: {
        "exchange": EXCHANGE,
        "recipient": DID,
        "period": {"start": "2026-05-01T00:00:00Z", "end": "2026-05-08T00:00:00Z"},
        "patronageScore": 10,
        "totalPatronage": 100,
        "tokensCredited": 5,
        "treasuryBefore": 5000,
        "policy": ref(),
        "createdAt": AT,
    },
    ids.COMPUTE_ATTESTATION: {
        **BASE["attestation"],
        "mdaCertChain": [b64(300), b64(200)],
        "appAttest": {"object": b64(1000), "keyId": {"$bytes": b64(32).rstrip("=")}},
        "sigScheme": "p256",
    },
    ids.COMPUTE_DISPUTE: {
        "settlement": ref(),
        "exchange": EXCHANGE,
        "raisedBy": DID,
        "raisedAt": AT,
        "reason": {"category": "non-delivery", "detail": "no reply"},
        "status": "resolved",
        "outcome": {"verdict": "refund-full", "refundSettlement": ref(), "decidedAt": AT},
        "evidenceCid": CID,
        "sig": "EeNTYE_IVdp_FJ4wCHWi9IrTsF4iU2SZr4LQNkw4a",
        "createdAt": AT,
    },
    ids.COMPUTE_EXCHANGE_ATTESTATION: {
        "exchange": EXCHANGE,
        "policy": ref(),
        "softwareVersion": "0.9.52",
        "signingKeyFingerprint": "abc123",
        "auditPosture": "self-hosted",
        "createdAt": AT,
    },
    ids.COMPUTE_EXCHANGE_POLICY: {
        "exchange": EXCHANGE,
        "fee": {"bps": 500, "minMinor": 1, "currency": "USD"},
        "tokenRate": {"inputPricePerMTok": 10, "outputPricePerMTok": 30, "currency": "USD"},
        "supportedCurrencies": ["USD", "XSAT"],
        "selfLoop": {"feeWaived": True, "minMinor": 0},
        "processor": "ledger",
        "termsUri": "https://exchange.vectors.example/terms",
        "termsVersion": "v2",
        "tokenGrant": 1000,
        "tokenFloor": 10,
        "treasuryDid": EXCHANGE,
        "weeklyRefresh": {"amountPerDid": 100, "cadenceMinutes": 10080},
        "patronageDistribution": {"fractionBps": 1000, "cadenceDays": 7},
        "active": True,
        "createdAt": AT,
    },
    ids.COMPUTE_JOB: {
        **BASE["job"],
        "outputSchema": {"name": "answer", "strict": True, "schema": {"type": "object"}},
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        "toolChoice": "auto",
        "acceptedProviders": ["did:plc:vectorprovideraaaaaaaaaa"],
    },
    ids.COMPUTE_PAYMENT_AUTHORIZATION: BASE["authorization"],
    ids.COMPUTE_PROVIDER: {
        "machineLabel": "studio",
        "chip": "Apple M3 Max",
        "ramGB": 128,
        "supportedModels": ["llama-3.1-70b"],
        "priceList": [
            {
                "modelId": "llama-3.1-70b",
                "inputPricePerMTok": 10,
                "outputPricePerMTok": 30,
                "currency": "USD",
            }
        ],
        "encryptionPubKey": "Y6KiPI7RtFshidQfjfmYXXJiLlBUFHltd7hhfjmc4iM=",
        "attestationPubKey": RECEIPTS["keys"]["providerSigning"]["publicKeyB64"],
        "trustLevel": "self-attested",
        "proBono": {"mode": "direct", "dids": [DID]},
        "engineFault": {"code": "oom", "message": "out of memory", "at": AT},
        "region": "US",
        "contactEndpoint": "wss://provider.example/ws",
        "createdAt": AT,
    },
    ids.COMPUTE_RECEIPT: BASE["receipt"],
    ids.COMPUTE_SETTLEMENT: load_vector("settlement.json")["stored"],
    ids.COMPUTE_TERMS_ACCEPTANCE: {
        "exchange": EXCHANGE,
        "policy": ref(),
        "termsVersion": "v2",
        "termsUri": "https://exchange.vectors.example/terms",
        "userAgent": "cocore-cli/0.1",
        "acceptedAt": AT,
        "attestation": ref(),
        "sig": "EeNTYE_IVdp_FJ4wCHWi9IrTsF4iU2SZr4LQNkw4a",
    },
}

# (nsid, field path to change, new value or DELETE, issue path, message fragment)
INVALID: list[tuple[str, str, Any, str, str]] = [
    (ids.ACCOUNT_FRIEND, "note", 5, "note", "expected string, got integer"),
    (ids.ACCOUNT_FRIEND, "subject", "bob", "subject", "invalid did"),
    (ids.ACCOUNT_FRIEND, "note", "x" * 1025, "note", "too long: 1025 bytes"),
    # 513 characters but 1026 UTF-8 bytes: limits count bytes, not characters.
    (ids.ACCOUNT_FRIEND, "note", "é" * 513, "note", "too long: 1026 bytes"),
    (ids.ACCOUNT_FRIEND, "createdAt", "yesterday", "createdAt", "invalid datetime"),
    (ids.ACCOUNT_PROFILE, "avatar.mimeType", "image/gif", "avatar.mimeType", "not accepted"),
    (ids.ACCOUNT_PROFILE, "avatar.size", 3_000_000, "avatar.size", "too large"),
    (ids.ACCOUNT_PROFILE, "avatar.ref", {"$link": "nope"}, "avatar.ref.$link", "invalid cid"),
    (ids.ACCOUNT_PROFILE, "avatar", "https://x", "avatar", "expected blob, got string"),
    (ids.ACCOUNT_PROFILE, "avatarUrl", "not a uri", "avatarUrl", "invalid uri"),
    (ids.ACCOUNT_PROFILE, "bio", "b" * 2561, "bio", "too long"),
    (ids.ACCOUNT_PROFILE, "displayName", None, "displayName", "expected string, got null"),
    (ids.ACCOUNT_TOKEN_GRANT, "amount", -1, "amount", "must be at least 0, got -1"),
    (ids.ACCOUNT_TOKEN_GRANT, "amount", True, "amount", "expected integer, got boolean"),
    (ids.ACCOUNT_TOKEN_GRANT, "amount", 1.5, "amount", "expected integer, got number"),
    (ids.ACCOUNT_TOKEN_GRANT, "amount", 2**64, "amount", "above the 64-bit range"),
    (ids.ACCOUNT_TOKEN_GRANT, "policy.cid", "bafy", "policy.cid", "invalid cid"),
    (ids.ACCOUNT_TOKEN_GRANT, "policy.uri", "https://x.test", "policy.uri", "invalid at-uri"),
    (ids.ACCOUNT_TOKEN_PATRONAGE, "tokensCredited", 0, "tokensCredited", "at least 1"),
    (ids.ACCOUNT_TOKEN_PATRONAGE, "period.end", DELETE, "period.end", "required field missing"),
    (ids.ACCOUNT_TOKEN_PATRONAGE, "period", "2026-W19", "period", "expected object, got string"),
    (ids.COMPUTE_ATTESTATION, "selfSignature", "not base64!", "selfSignature", "invalid base64"),
    (ids.COMPUTE_ATTESTATION, "selfSignature", b64(257), "selfSignature", "too long: 257 bytes"),
    (ids.COMPUTE_ATTESTATION, "mdaCertChain", [b64(8)] * 9, "mdaCertChain", "too long: 9 items"),
    (ids.COMPUTE_ATTESTATION, "mdaCertChain.1", "a-b_", "mdaCertChain[1]", "invalid base64"),
    (ids.COMPUTE_ATTESTATION, "mdaCertChain.0", b64(8193), "mdaCertChain[0]", "too long"),
    (ids.COMPUTE_ATTESTATION, "appAttest.keyId", DELETE, "appAttest.keyId", "required"),
    (ids.COMPUTE_ATTESTATION, "appAttest.object", {"$bytes": "!!"}, "appAttest.object", "base64"),
    (ids.COMPUTE_ATTESTATION, "serialNumberHash", "ab", "serialNumberHash", "too short"),
    (ids.COMPUTE_ATTESTATION, "sipEnabled", "yes", "sipEnabled", "expected boolean, got string"),
    (ids.COMPUTE_ATTESTATION, "tier", 5, "tier", "expected string, got integer"),
    (ids.COMPUTE_DISPUTE, "reason.category", 7, "reason.category", "expected string"),
    (ids.COMPUTE_DISPUTE, "outcome.decidedAt", "soon", "outcome.decidedAt", "invalid datetime"),
    (ids.COMPUTE_DISPUTE, "evidenceCid", "Qm123", "evidenceCid", "invalid cid"),
    (ids.COMPUTE_DISPUTE, "reason.detail", "d" * 2049, "reason.detail", "too long"),
    (ids.COMPUTE_DISPUTE, "settlement.cid", DELETE, "settlement.cid", "required field missing"),
    (ids.COMPUTE_EXCHANGE_ATTESTATION, "softwareVersion", "9" * 65, "softwareVersion", "too long"),
    (ids.COMPUTE_EXCHANGE_ATTESTATION, "exchange", "did:web", "exchange", "invalid did"),
    (ids.COMPUTE_EXCHANGE_POLICY, "fee.bps", 10001, "fee.bps", "at most 10000"),
    (ids.COMPUTE_EXCHANGE_POLICY, "supportedCurrencies", [], "supportedCurrencies", "too short"),
    (
        ids.COMPUTE_EXCHANGE_POLICY,
        "supportedCurrencies",
        ["USD"] * 33,
        "supportedCurrencies",
        "33 items",
    ),
    (
        ids.COMPUTE_EXCHANGE_POLICY,
        "supportedCurrencies.0",
        "U",  # two letters (CC) are allowed by the erratum
        "supportedCurrencies[0]",
        "too short",
    ),
    (
        ids.COMPUTE_EXCHANGE_POLICY,
        "weeklyRefresh.cadenceMinutes",
        59,
        "weeklyRefresh.cadenceMinutes",
        "60",
    ),
    (ids.COMPUTE_EXCHANGE_POLICY, "termsUri", "terms", "termsUri", "invalid uri"),
    (ids.COMPUTE_EXCHANGE_POLICY, "active", "true", "active", "expected boolean"),
    (ids.COMPUTE_JOB, "maxTokensOut", 2_000_001, "maxTokensOut", "at most 2000000"),
    (ids.COMPUTE_JOB, "maxTokensOut", 0, "maxTokensOut", "at least 1"),
    (ids.COMPUTE_JOB, "nonce", "ff", "nonce", "too short"),
    (ids.COMPUTE_JOB, "acceptedProviders", [DID] * 65, "acceptedProviders", "65 items"),
    (ids.COMPUTE_JOB, "acceptedProviders.0", "x", "acceptedProviders[0]", "invalid did"),
    (ids.COMPUTE_JOB, "priceCeiling.amount", "50", "priceCeiling.amount", "got string"),
    (ids.COMPUTE_JOB, "tools.0.function.name", DELETE, "tools[0].function.name", "required"),
    (ids.COMPUTE_JOB, "outputSchema.schema", "x", "outputSchema.schema", "expected object"),
    (ids.COMPUTE_PAYMENT_AUTHORIZATION, "ceiling.currency", "U", "ceiling.currency", "too short"),
    (ids.COMPUTE_PAYMENT_AUTHORIZATION, "scope", 5, "scope", "expected string"),
    (
        ids.COMPUTE_PAYMENT_AUTHORIZATION,
        "sessionBudget",
        {"amount": -1, "currency": "USD"},
        "sessionBudget.amount",
        "at least 0",
    ),
    (
        ids.COMPUTE_PAYMENT_AUTHORIZATION,
        "expiresAt",
        "2026-13-01T00:00:00Z",
        "expiresAt",
        "invalid datetime",
    ),
    (ids.COMPUTE_PROVIDER, "ramGB", 0, "ramGB", "at least 1"),
    (ids.COMPUTE_PROVIDER, "priceList", [{}] * 257, "priceList", "257 items"),
    (
        ids.COMPUTE_PROVIDER,
        "priceList.0.inputPricePerMTok",
        -1,
        "priceList[0].inputPricePerMTok",
        "at least 0",
    ),
    (ids.COMPUTE_PROVIDER, "supportedModels", [], "supportedModels", "too short: 0 items"),
    (ids.COMPUTE_PROVIDER, "region", "USA", "region", "too long: 3 bytes"),
    (ids.COMPUTE_PROVIDER, "proBono.dids.0", "nobody", "proBono.dids[0]", "invalid did"),
    (ids.COMPUTE_PROVIDER, "engineFault.message", "m" * 601, "engineFault.message", "too long"),
    (ids.COMPUTE_PROVIDER, "contactEndpoint", "provider", "contactEndpoint", "invalid uri"),
    (ids.COMPUTE_RECEIPT, "price.amount", "3", "price.amount", "expected integer, got string"),
    (ids.COMPUTE_RECEIPT, "attestation.uri", "at://x", "attestation.uri", "invalid at-uri"),
    (ids.COMPUTE_RECEIPT, "job.uri", "at://did:plc:x/a.b.c/k/extra", "job.uri", "invalid at-uri"),
    (ids.COMPUTE_RECEIPT, "enclaveSignature", "%%%%", "enclaveSignature", "invalid base64"),
    (ids.COMPUTE_RECEIPT, "enclaveSignature", b64(257), "enclaveSignature", "257 bytes"),
    (ids.COMPUTE_RECEIPT, "tokens.in", -1, "tokens.in", "at least 0"),
    (ids.COMPUTE_RECEIPT, "params.topPMilli", 1001, "params.topPMilli", "at most 1000"),
    (
        ids.COMPUTE_RECEIPT,
        "brokerageCountersignature.nonce",
        "ab",
        "brokerageCountersignature.nonce",
        "too short",
    ),
    (
        ids.COMPUTE_RECEIPT,
        "brokerageCountersignature.sig",
        "a",
        "brokerageCountersignature.sig",
        "base64",
    ),
    (ids.COMPUTE_RECEIPT, "model", "m" * 257, "model", "too long"),
    (ids.COMPUTE_RECEIPT, "outputCipherURL", "no scheme", "outputCipherURL", "invalid uri"),
    (ids.COMPUTE_RECEIPT, "proBono", "true", "proBono", "expected boolean"),
    (
        ids.COMPUTE_SETTLEMENT,
        "processorReference",
        "led ger",
        "processorReference",
        "invalid base64",
    ),
    (ids.COMPUTE_SETTLEMENT, "processorReference", b64(1025), "processorReference", "too long"),
    (ids.COMPUTE_SETTLEMENT, "amountCharged.amount", -3, "amountCharged.amount", "at least 0"),
    (ids.COMPUTE_SETTLEMENT, "status", 3, "status", "expected string"),
    (ids.COMPUTE_SETTLEMENT, "settledAt", "2026-05-07 12:00:10", "settledAt", "invalid datetime"),
    (
        ids.COMPUTE_SETTLEMENT,
        "refundOf",
        {"uri": "at:/x", "cid": CID},
        "refundOf.uri",
        "invalid at-uri",
    ),
    (ids.COMPUTE_TERMS_ACCEPTANCE, "termsUri", "//terms", "termsUri", "invalid uri"),
    (ids.COMPUTE_TERMS_ACCEPTANCE, "userAgent", "u" * 513, "userAgent", "too long"),
    (ids.COMPUTE_TERMS_ACCEPTANCE, "sig", 5, "sig", "expected string"),
    (ids.COMPUTE_TERMS_ACCEPTANCE, "termsVersion", "v" * 33, "termsVersion", "too long"),
]


def changed(record: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of `record` with the field at `dotted` (list indexes as numbers) replaced."""
    out = copy.deepcopy(record)
    *parents, last = dotted.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def issue_at(issues: list[ValidationIssue], path: str, fragment: str) -> bool:
    return any(i.path == path and fragment in i.message for i in issues)


def test_every_record_lexicon_has_cases() -> None:
    assert REG.record_nsids == ids.RECORD_NSIDS == set(VALID)
    for nsid in REG.record_nsids:
        assert sum(1 for case in INVALID if case[0] == nsid) >= 2, nsid


@pytest.mark.parametrize("nsid", sorted(VALID))
def test_valid_record(nsid: str) -> None:
    assert REG.validate_record(nsid, VALID[nsid]) == []
    REG.check_record(nsid, VALID[nsid])


@pytest.mark.parametrize(("nsid", "field", "value", "path", "fragment"), INVALID)
def test_invalid_record(nsid: str, field: str, value: Any, path: str, fragment: str) -> None:
    issues = REG.validate_record(nsid, changed(VALID[nsid], field, value))
    assert issue_at(issues, path, fragment), issues
    # Only the damaged field is reported: nothing else in the record is wrong.
    assert {i.path for i in issues} == {path}


REQUIRED = [
    (nsid, name)
    for nsid in sorted(VALID)
    for name in REG.documents[nsid]["defs"]["main"]["record"].get("required", [])
]


@pytest.mark.parametrize(("nsid", "name"), REQUIRED)
def test_missing_required_field(nsid: str, name: str) -> None:
    issues = REG.validate_record(nsid, changed(VALID[nsid], name, DELETE))
    assert issues == [ValidationIssue(name, "required field missing")]


@pytest.mark.parametrize("nsid", sorted(VALID))
def test_wrong_type_tag(nsid: str) -> None:
    other = ids.COMPUTE_JOB if nsid != ids.COMPUTE_JOB else ids.COMPUTE_RECEIPT
    issues = REG.validate_record(nsid, {**VALID[nsid], "$type": other})
    assert [i.path for i in issues] == ["$type"]
    assert f"must be {nsid!r}" in issues[0].message
    assert REG.validate_record(nsid, {**VALID[nsid], "$type": 7})[0].path == "$type"


@pytest.mark.parametrize("value", [None, [], "record", 3, True])
def test_a_record_must_be_an_object(value: Any) -> None:
    assert REG.validate_record(ids.COMPUTE_RECEIPT, value)[0].path == ""


def test_all_issues_reported_with_paths() -> None:
    bad = changed(VALID[ids.COMPUTE_RECEIPT], "price.amount", "3")
    bad = changed(bad, "tokens", {"in": -1})
    bad = changed(bad, "requester", "me")
    del bad["model"]
    assert sorted(map(str, REG.validate_record(ids.COMPUTE_RECEIPT, bad))) == [
        "model: required field missing",
        "price.amount: expected integer, got string",
        "requester: invalid did 'me': expected did:<method>:<identifier>",
        "tokens.in: must be at least 0, got -1",
        "tokens.out: required field missing",
    ]


def test_check_record_raises_with_every_issue() -> None:
    bad = {**VALID[ids.COMPUTE_RECEIPT], "model": 1, "tokens": {"in": "1", "out": "2"}}
    with pytest.raises(LexiconValidationError) as caught:
        REG.check_record(ids.COMPUTE_RECEIPT, bad)
    err = caught.value
    assert err.code == "lexicon_invalid"
    assert [i.path for i in err.issues] == ["model", "tokens.in", "tokens.out"]
    assert err.details["issues"][0] == {"path": "model", "message": "expected string, got integer"}


OPEN_BUT_VALID = [
    (ids.COMPUTE_JOB, "acceptedTrustLevel", "quantum-attested"),  # knownValues are open
    (ids.COMPUTE_PAYMENT_AUTHORIZATION, "scope", "unlimited"),
    (ids.COMPUTE_RECEIPT, "provider", "did:plc:someoneelseaaaaaaaaaaaaa"),  # objects are open
    (ids.COMPUTE_RECEIPT, "enclaveSignature", {"$bytes": "MEUCIGqI4mRyErV1VIhvSBah"}),
    (ids.COMPUTE_RECEIPT, "enclaveSignature", ""),  # no minLength: zero bytes is well-formed
    (ids.COMPUTE_SETTLEMENT, "processorReference", "ledger"),  # unpadded base64 of 4 bytes
    (ids.ACCOUNT_PROFILE, "avatar.mimeType", "image/webp"),
]


@pytest.mark.parametrize(("nsid", "field", "value"), OPEN_BUT_VALID)
def test_open_values_pass(nsid: str, field: str, value: Any) -> None:
    assert REG.validate_record(nsid, changed(VALID[nsid], field, value)) == []


# The vector scenarios that break the lexicon itself; all others vary signatures, commitments,
# prices under ceilings, contexts or extra keys, which the lexicon does not (and cannot) see.
VECTOR_LEXICON_FAILURES = {
    # money.amount has minimum 0.
    ("negative-price", "receipt"): [ValidationIssue("price.amount", "must be at least 0, got -5")],
    # selfSignature is required by the attestation lexicon.
    ("attestation-unsigned", "attestation"): [
        ValidationIssue("selfSignature", "required field missing")
    ],
}
PARTS = {
    "receipt": ids.COMPUTE_RECEIPT,
    "job": ids.COMPUTE_JOB,
    "attestation": ids.COMPUTE_ATTESTATION,
    "authorization": ids.COMPUTE_PAYMENT_AUTHORIZATION,
}
SCENARIO_PARTS = [(s["name"], part) for s in RECEIPTS["scenarios"] for part in PARTS]


@pytest.mark.parametrize(("scenario", "part"), SCENARIO_PARTS)
def test_receipt_vectors(scenario: str, part: str) -> None:
    """non-ascii-key, provider-mismatch: extra keys (open objects; canonical JSON is the
    verifier's concern). empty-signature, raw-rs-signature, appattest-*: still base64 of at most
    256 bytes. charge-unknown-scope: knownValues are open. attestation-legacy-form: fractional
    seconds are RFC 3339. negative-price and attestation-unsigned break the lexicon."""
    record = next(s for s in RECEIPTS["scenarios"] if s["name"] == scenario)[part]
    expected = VECTOR_LEXICON_FAILURES.get((scenario, part), [])
    assert REG.validate_record(PARTS[part], record) == expected


def test_vector_scenarios_that_fail_exist() -> None:
    names = {s["name"] for s in RECEIPTS["scenarios"]}
    assert {name for name, _ in VECTOR_LEXICON_FAILURES} <= names


@pytest.mark.parametrize("case", RECEIPTS["brokerage"], ids=lambda c: c["name"])
def test_brokerage_vector_receipts(case: dict[str, Any]) -> None:
    assert REG.validate_record(ids.COMPUTE_RECEIPT, case["receipt"]) == []


def test_settlement_vectors() -> None:
    settlement = load_vector("settlement.json")
    assert REG.validate_record(ids.COMPUTE_SETTLEMENT, settlement["stored"]) == []
    for case in settlement["cases"]:  # they differ in amounts and publishers, not in shape
        assert REG.validate_record(ids.COMPUTE_SETTLEMENT, case["settlement"]) == [], case["name"]
