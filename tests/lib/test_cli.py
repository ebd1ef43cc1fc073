"""The `cocore` command-line tool, run as a subprocess exactly as an auditor would."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cocore.syntax import parse_tid
from tests.conftest import REPO, load_vector

COCORE = str(REPO / ".venv" / "bin" / "cocore")
RECEIPTS = load_vector("receipts.json")
SCENARIOS = {s["name"]: s for s in RECEIPTS["scenarios"]}
SETTLEMENT = load_vector("settlement.json")


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [COCORE, *args], check=False, input=stdin, capture_output=True, timeout=60
    )


def write(tmp_path: Path, obj: Any) -> str:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(obj))
    return str(path)


def test_canonical_sorts_and_strips() -> None:
    out = run("canonical", stdin=b'{"b": [1, {"y": "\\u0001", "x": null}], "a": "\xc3\xa9"}')
    assert out.returncode == 0, out.stderr
    assert out.stdout == '{"a":"é","b":[1,{"x":null,"y":"\\u0001"}]}'.encode()


@pytest.mark.parametrize(
    "bad",
    [
        b'{"a": 1.0}',
        b'{"a": 1e2}',
        b"[9007199254740992]",
        b'{"\xc3\xa9": 1}',
        b'"\\ud800"',
        b'{"a": 1, "a": 2}',
        b"{",
        b"\xff",
        b"NaN",
    ],
)
def test_canonical_rejects_with_one_line(bad: bytes) -> None:
    out = run("canonical", stdin=bad)
    assert out.returncode != 0
    assert out.stdout == b""
    lines = out.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cocore: "), out.stderr
    assert "Traceback" not in out.stderr.decode()


def _receipt_bundle(name: str, *, charge: bool) -> dict[str, Any]:
    s = SCENARIOS[name]
    bundle = {k: s[k] for k in ("receipt", "job", "attestation", "authorization", "strictOptions")}
    if charge:
        bundle["chargeContext"] = s["chargeContext"]
    return bundle


@pytest.mark.parametrize("charge", [False, True], ids=["strict", "charge"])
def test_verify_receipt_ok(tmp_path: Path, charge: bool) -> None:
    out = run("verify", "receipt", write(tmp_path, _receipt_bundle("valid-stored", charge=charge)))
    assert out.returncode == 0, out.stdout
    assert json.loads(out.stdout) == {"ok": True, "findings": []}


@pytest.mark.parametrize(
    ("name", "charge", "code"),
    [
        ("tampered-price", False, "signature-invalid"),
        ("self-minted-attestation", False, "attestation-cid-mismatch"),
        ("price-over-auth-ceiling", True, "price-over-auth-ceiling"),
        ("charge-already-settled", True, "already-settled"),
    ],
)
def test_verify_receipt_refuses(tmp_path: Path, name: str, charge: bool, code: str) -> None:
    out = run("verify", "receipt", write(tmp_path, _receipt_bundle(name, charge=charge)))
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["ok"] is False
    assert code in [f["code"] for f in result["findings"]]
    assert all({"severity", "code", "message"} <= f.keys() for f in result["findings"])


def _settlement_bundle(settlement: dict[str, Any]) -> dict[str, Any]:
    valid = SCENARIOS["valid-stored"]
    return {
        "settlement": settlement,
        "receipt": valid["receipt"],
        "authorization": valid["authorization"],
        "exchangeKey": SETTLEMENT["exchangeKey"]["publicJwk"],
        "publisherDid": RECEIPTS["dids"]["exchange"],
    }


def test_verify_settlement(tmp_path: Path) -> None:
    out = run("verify", "settlement", write(tmp_path, _settlement_bundle(SETTLEMENT["stored"])))
    assert out.returncode == 0, out.stdout
    tampered = {**SETTLEMENT["stored"], "exchangeFee": {"amount": 2, "currency": "USD"}}
    out = run("verify", "settlement", write(tmp_path, _settlement_bundle(tampered)))
    assert out.returncode == 1
    codes = [f["code"] for f in json.loads(out.stdout)["findings"]]
    assert codes == ["split-mismatch", "signature-invalid"]


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"receipt": {}}', b'{"receipt": {}, "job": {}, "attestation": 1}'],
)
def test_verify_bad_files_are_usage_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    out = run("verify", "receipt", str(path))
    assert out.returncode == 2
    assert len(out.stderr.decode().strip().splitlines()) == 1
    assert run("verify", "receipt", str(tmp_path / "missing.json")).returncode == 2


def test_keys_new_is_private_and_never_overwrites(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    out = run("keys", "new", str(keydir))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert len(summary["publicKey"]) == 88 and summary["encScheme"] == "x25519"
    for name in ("signing-key.pem", "encryption-key.x25519"):
        mode = stat.S_IMODE((keydir / name).stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(keydir.stat().st_mode) == 0o700
    again = run("keys", "new", str(keydir))
    assert again.returncode == 2 and b"already exists" in again.stderr
    assert json.loads((keydir / "public.json").read_text()) == summary


def test_tid_and_cid(tmp_path: Path) -> None:
    tids = [run("tid").stdout.decode().strip() for _ in range(2)]
    assert all(parse_tid(t) == t for t in tids)
    case = load_vector("cid-tid.json")["cids"][0]
    out = run("cid", write(tmp_path, case["record"]))
    assert out.returncode == 0 and out.stdout.decode().strip() == case["cid"]
    assert run("cid", "-", stdin=b'{"a": 1.5}').returncode == 2
