"""p256-ecdsa.json: RFC 6979 signatures byte for byte, both S forms, strict DER, key encodings."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from cocore.crypto import (
    P256_ORDER,
    CryptoError,
    EncodingError,
    KeyFormatError,
    PublicKey,
    SignatureFormatError,
    SigningKey,
    b64decode_strict,
    b64encode,
    b64url_decode_strict,
    b64url_encode,
    der_to_raw,
    is_high_s,
    parse_der_strict,
    raw_to_der,
)
from tests.conftest import load_vector

V: dict[str, Any] = load_vector("p256-ecdsa.json")
KEY = SigningKey.from_scalar(int(V["key"]["privateScalarHex"], 16))
OTHER = SigningKey.from_scalar(int(V["otherKey"]["privateScalarHex"], 16))
SIGS: list[dict[str, Any]] = V["signatures"]
EDGES: list[dict[str, Any]] = V["verifierEdgeCases"]


def test_curve_order_matches() -> None:
    assert int(V["curveOrderHex"], 16) == P256_ORDER


def test_public_key_encodings() -> None:
    k = V["key"]
    pub = KEY.public_key
    assert pub.to_cocore_b64() == k["publicKeyB64_cocore"]
    assert "04" + pub.raw_xy.hex() == k["publicKeyUncompressedHex"]
    parity = "03" if pub.raw_xy[-1] & 1 else "02"
    assert parity + pub.raw_xy[:32].hex() == k["publicKeyCompressedHex"]
    assert PublicKey.from_cocore_b64(k["publicKeyB64_cocore"]) == pub
    assert PublicKey.from_raw_xy(bytes.fromhex(k["publicKeyUncompressedHex"])[1:]) == pub
    assert OTHER.public_key.to_cocore_b64() == V["otherKey"]["publicKeyB64_cocore"]


def test_jwk_round_trips() -> None:
    jwk = V["key"]["publicJwk"]
    assert KEY.public_key.to_jwk() == jwk
    assert PublicKey.from_jwk(jwk) == KEY.public_key
    private = KEY.to_private_jwk()
    assert {n: private[n] for n in jwk} == jwk
    assert SigningKey.from_private_jwk(private).to_scalar() == KEY.to_scalar()


@pytest.mark.parametrize("case", SIGS, ids=[c["name"] for c in SIGS])
def test_rfc6979_signatures_reproduce_byte_for_byte(case: dict[str, Any]) -> None:
    message = bytes.fromhex(case["messageHex"])
    assert message == case["messageUtf8"].encode()
    der = KEY.sign_der(message, deterministic=True)
    raw = KEY.sign_raw(message, deterministic=True)
    assert b64encode(der) == case["rfc6979"]["derB64"]
    assert raw.hex() == case["rfc6979"]["rawRSHex"]
    assert b64url_encode(raw) == case["rfc6979"]["rawRSB64url"]
    assert der_to_raw(der) == raw
    assert raw_to_der(raw) == der
    assert is_high_s(der) is case["rfc6979"]["sIsHigh"]
    assert is_high_s(raw) is case["rfc6979"]["sIsHigh"]


@pytest.mark.parametrize("case", SIGS, ids=[c["name"] for c in SIGS])
def test_both_s_forms_verify_no_low_s_rule(case: dict[str, Any]) -> None:
    # Neither the Secure Enclave nor RustCrypto normalises S (crypto.md §3): about half of all
    # genuine receipts are high-S, so requiring low-S would reject them.
    message = bytes.fromhex(case["messageHex"])
    pub = KEY.public_key
    der = b64decode_strict(case["rfc6979"]["derB64"])
    twin = b64decode_strict(case["otherSForm"]["derB64"])
    assert case["referenceVerify"]["rfc6979Der"]["result"] is True
    assert case["referenceVerify"]["otherSFormDer"]["result"] is True
    assert pub.verify_der(der, message)
    assert pub.verify_der(twin, message)
    assert pub.verify_raw(der_to_raw(twin), message)
    assert pub.verify_raw(b64url_decode_strict(case["rfc6979"]["rawRSB64url"]), message)
    assert is_high_s(twin) is case["otherSForm"]["sIsHigh"] is not case["rfc6979"]["sIsHigh"]
    assert sum(is_high_s(s) for s in (der, twin)) == 1
    # ... and still bound to the key and the message.
    assert not OTHER.public_key.verify_der(der, message)
    assert not pub.verify_der(der, message + b"!")
    assert not pub.verify_raw(der_to_raw(der), message + b"!")


# Our verdict per edge case: True/False from verify_der, or the typed error raised while
# decoding the wire strings. Where it differs from the TS reference, the reason is given.
EDGE_VERDICTS: dict[str, tuple[object, str]] = {
    "valid DER, standard base64 with padding": (True, "same as TS and Python"),
    "valid DER, base64 with padding stripped": (
        "bad-signature-encoding",
        "differs from TS (atob accepts missing padding): crypto.md §1 wire b64 is padded and "
        "we decode strictly, one spelling per signature",
    ),
    "valid DER encoded as base64url (no padding)": (
        "bad-signature-encoding",
        "TS throws too; receipt signatures are standard base64",
    ),
    "raw r||s (64 bytes) instead of DER": (False, "not DER: TS throws bad-der, Python false"),
    "DER with one trailing 0x00 byte": (
        False,
        "differs from TS (lenient parser ignores trailing bytes): strict DER like the Python "
        "SDK and RustCrypto from_der",
    ),
    "DER with non-minimal INTEGER (extra leading 0x00 on r)": (
        False,
        "differs from TS (lenient parser accepts it): strict DER like the Python SDK",
    ),
    "signature from a different key": (False, "same as TS and Python"),
    "public key as 65-byte 0x04||X||Y": (
        "bad-key",
        "TS throws bad-pubkey-length too; the wire form is exactly 64 bytes",
    ),
    "public key as 33-byte compressed": ("bad-key", "TS throws bad-pubkey-length too"),
    "public key base64url-encoded": ("bad-key", "TS throws too; keys are standard base64"),
    "empty signature": (False, "TS throws bad-der, Python false: not a signature"),
}


def _verdict(case: dict[str, Any]) -> object:
    try:
        key = PublicKey.from_cocore_b64(case["publicKey"])
    except KeyFormatError:
        return "bad-key"
    try:
        signature = b64decode_strict(case["signature"])
    except EncodingError:
        return "bad-signature-encoding"
    return key.verify_der(signature, bytes.fromhex(case["messageHex"]))


def test_every_edge_case_has_a_verdict() -> None:
    assert {c["name"] for c in EDGES} == set(EDGE_VERDICTS)


@pytest.mark.parametrize(
    "case", EDGES, ids=[f"{c['name']} -- {EDGE_VERDICTS[c['name']][1]}" for c in EDGES]
)
def test_verifier_edge_case(case: dict[str, Any]) -> None:
    expected, _why = EDGE_VERDICTS[case["name"]]
    assert _verdict(case) == expected
    if expected is False and case["signature"]:
        # A strictly-parsed DER that fails does so for the right reason: malformed or wrong.
        signature = b64decode_strict(case["signature"])
        if case["name"] != "signature from a different key":
            with pytest.raises(SignatureFormatError):
                parse_der_strict(signature)


@pytest.mark.parametrize("example", V["derToRawExamples"])
def test_der_to_raw_examples(example: dict[str, str]) -> None:
    der, raw = bytes.fromhex(example["derHex"]), bytes.fromhex(example["rawHex"])
    assert der_to_raw(der) == raw
    assert raw_to_der(raw) == der


def test_signature_is_high_s_example() -> None:
    case = V["signatureIsHighS"]
    assert is_high_s(b64decode_strict(case["input"])) is case["reference"]


# --------------------------------------------------------------------- beyond the vector file

GOOD = b64decode_strict(SIGS[0]["rfc6979"]["derB64"])


def _der(r: bytes, s: bytes) -> bytes:
    body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(s)]) + s
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("der", "why"),
    [
        (b"", "empty"),
        (b"\x31" + GOOD[1:], "SET tag instead of SEQUENCE"),
        (GOOD[:1] + b"\x81" + GOOD[1:], "long-form length"),
        (GOOD + b"\x00", "trailing byte"),
        (GOOD[:-1], "truncated"),
        (GOOD[:2] + b"\x03" + GOOD[3:], "BIT STRING instead of INTEGER"),
        (_der(b"\x00", b"\x01"), "r = 0"),
        (_der(b"\x01", b"\x00"), "s = 0"),
        (_der(b"\xff", b"\x01"), "negative r"),
        (_der(b"\x01", b"\x80"), "negative s"),
        (_der(b"\x00\x01", b"\x01"), "non-minimal r"),
        (_der(b"", b"\x01"), "empty INTEGER"),
        (_der(b"\x00" + P256_ORDER.to_bytes(32, "big"), b"\x01"), "r = n"),
        (_der(b"\x01" * 34, b"\x01"), "INTEGER longer than 33 bytes"),
        (b"\x30\x07\x02\x01\x01\x02\x01\x01\x00", "garbage inside the SEQUENCE"),
    ],
)
def test_strict_der_rejects(der: bytes, why: str) -> None:
    with pytest.raises(SignatureFormatError):
        parse_der_strict(der)
    assert KEY.public_key.verify_der(der, b"x") is False


def test_raw_signature_shape_is_checked() -> None:
    with pytest.raises(SignatureFormatError):
        raw_to_der(b"\x00" * 64)  # r = s = 0
    with pytest.raises(SignatureFormatError):
        raw_to_der(b"\x01" * 63)
    assert KEY.public_key.verify_raw(b"\x01" * 65, b"x") is False
    assert KEY.public_key.verify_raw(P256_ORDER.to_bytes(32, "big") * 2, b"x") is False


def test_random_nonce_signatures_differ_and_verify() -> None:
    first, second = KEY.sign_der(b"msg"), KEY.sign_der(b"msg")
    assert first != second
    assert KEY.public_key.verify_der(first, b"msg") and KEY.public_key.verify_der(second, b"msg")
    assert KEY.public_key.verify_raw(KEY.sign_raw(b"msg"), b"msg")


@pytest.mark.parametrize(
    "raw",
    [
        bytes(64),  # x = y = 0 is not on the curve
        (1).to_bytes(32, "big") * 2,
        b"\xff" * 64,  # coordinates beyond the field prime
        KEY.public_key.raw_xy[:32] + bytes(32),
    ],
)
def test_points_off_the_curve_are_refused(raw: bytes) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_raw_xy(raw)


@pytest.mark.parametrize(
    "jwk",
    [
        {**V["key"]["publicJwk"], "crv": "P-384"},
        {**V["key"]["publicJwk"], "kty": "OKP"},
        {**V["key"]["publicJwk"], "x": V["key"]["publicJwk"]["x"] + "="},
        {**V["key"]["publicJwk"], "y": V["key"]["publicJwk"]["y"][:-1]},
        {"kty": "EC", "crv": "P-256", "x": V["key"]["publicJwk"]["x"]},
        {**V["key"]["publicJwk"], "x": 5},
        "not a mapping",
    ],
)
def test_bad_jwks_are_refused(jwk: Any) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_jwk(jwk)


def test_private_key_forms() -> None:
    pem = KEY.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert SigningKey.from_pem(pem).to_scalar() == KEY.to_scalar()
    wrong_curve = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for other in (wrong_curve, rsa_key):
        pem_other = other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        with pytest.raises(KeyFormatError):
            SigningKey.from_pem(pem_other)
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    for scalar in (0, P256_ORDER, -1, True):
        with pytest.raises(KeyFormatError):
            SigningKey.from_scalar(scalar)
    mismatched = {**KEY.to_private_jwk(), "x": OTHER.public_key.to_jwk()["x"]}
    with pytest.raises(KeyFormatError):
        SigningKey.from_private_jwk(mismatched)
    assert V["key"]["privateScalarHex"] not in repr(KEY)


def test_wrong_argument_types_raise_typed_errors() -> None:
    with pytest.raises(CryptoError):
        KEY.public_key.verify_der(GOOD, "text")  # type: ignore[arg-type]
    assert KEY.public_key.verify_der("text", b"x") is False  # type: ignore[arg-type]
    with pytest.raises(SignatureFormatError):
        is_high_s("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["QQ", "QQ=", "QR==", "Q Q==", "QQ==\n", "-_==", "QQ==QQ==", "=QQ=", "\u00e9A==", "A==="],
)
def test_b64decode_strict_refuses(text: str) -> None:
    with pytest.raises(EncodingError):
        b64decode_strict(text)


@pytest.mark.parametrize("text", ["QQ==", "QR", "Q", "+/8", "QQ=", "Q Q"])
def test_b64url_decode_strict_refuses(text: str) -> None:
    with pytest.raises(EncodingError):
        b64url_decode_strict(text)


def test_base64_round_trips() -> None:
    for n in range(0, 40):
        data = bytes(range(256))[n : n * 5 + 3]
        assert b64decode_strict(b64encode(data)) == data
        assert b64url_decode_strict(b64url_encode(data)) == data
    assert b64decode_strict("") == b""
    assert b64url_decode_strict("_-8") == b"\xff\xef"
