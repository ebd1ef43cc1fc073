"""Properties: DER/key/base64/seal parsers raise only typed errors; mutated signatures fail."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cocore.crypto import (
    P256_ORDER,
    CryptoError,
    EncodingError,
    EncryptionKeyPair,
    KeyFormatError,
    PublicKey,
    SealError,
    SealScheme,
    SignatureFormatError,
    SigningKey,
    b64decode_strict,
    b64encode,
    b64url_decode_strict,
    b64url_encode,
    der_to_raw,
    is_high_s,
    open_request,
    parse_der_strict,
    raw_to_der,
    seal_request,
)

KEY = SigningKey.from_scalar(0xC0C0BE)
MESSAGE = b'{"model":"m","price":{"amount":3,"currency":"USD"}}'
DER = KEY.sign_der(MESSAGE, deterministic=True)
RAW = der_to_raw(DER)
CRYPTO = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look like DER often enough to reach the deep branches of the parser.
_int_body = st.binary(min_size=0, max_size=34)
DERISH = st.builds(
    lambda r, s, tag, extra: (
        bytes([tag, len(r) + len(s) + 4 + len(extra)])
        + b"\x02"
        + bytes([len(r)])
        + r
        + b"\x02"
        + bytes([len(s)])
        + s
        + extra
    ),
    _int_body,
    _int_body,
    st.sampled_from([0x30, 0x30, 0x31]),
    st.binary(max_size=2),
)


@given(st.binary(max_size=80) | DERISH)
def test_der_parser_returns_or_raises_typed(data: bytes) -> None:
    try:
        r, s = parse_der_strict(data)
    except SignatureFormatError:
        return
    assert 0 < r < P256_ORDER and 0 < s < P256_ORDER
    assert raw_to_der(der_to_raw(data)) == data  # strict DER: one spelling per (r, s)


@given(st.binary(max_size=80) | DERISH)
def test_is_high_s_returns_or_raises_typed(data: bytes) -> None:
    with contextlib.suppress(SignatureFormatError):
        assert isinstance(is_high_s(data), bool)


@given(st.integers(1, P256_ORDER - 1), st.integers(1, P256_ORDER - 1))
def test_raw_and_der_convert_both_ways(r: int, s: int) -> None:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    der = raw_to_der(raw)
    assert parse_der_strict(der) == (r, s)
    assert der_to_raw(der) == raw
    assert is_high_s(der) is is_high_s(raw) is (s > P256_ORDER // 2)


@CRYPTO
@given(st.data())
def test_mutated_der_signatures_never_verify(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    i = data.draw(st.integers(0, len(DER) - 1))
    if kind == "flip":
        mutated = DER[:i] + bytes([DER[i] ^ data.draw(st.integers(1, 255))]) + DER[i + 1 :]
    elif kind == "insert":
        mutated = DER[:i] + data.draw(st.binary(min_size=1, max_size=3)) + DER[i:]
    elif kind == "delete":
        mutated = DER[:i] + DER[i + 1 :]
    else:
        mutated = DER[:i]
    assert KEY.public_key.verify_der(mutated, MESSAGE) is False


@CRYPTO
@given(st.integers(0, 63), st.integers(1, 255))
def test_mutated_raw_signatures_never_verify(i: int, xor: int) -> None:
    mutated = RAW[:i] + bytes([RAW[i] ^ xor]) + RAW[i + 1 :]
    assert KEY.public_key.verify_raw(mutated, MESSAGE) is False


@CRYPTO
@given(st.binary(max_size=80), st.binary(max_size=40))
def test_arbitrary_signatures_never_raise(signature: bytes, message: bytes) -> None:
    assert KEY.public_key.verify_der(signature, message) is False
    assert KEY.public_key.verify_raw(signature, message) is False


@CRYPTO
@given(st.binary(min_size=60, max_size=68) | st.binary(max_size=100))
def test_public_key_from_arbitrary_bytes(data: bytes) -> None:
    try:
        key = PublicKey.from_raw_xy(data)
    except KeyFormatError:
        return
    assert key.raw_xy == data


@CRYPTO
@given(st.text(max_size=100))
def test_public_key_from_arbitrary_text(text: str) -> None:
    with contextlib.suppress(KeyFormatError):
        PublicKey.from_cocore_b64(text)


@given(st.text(max_size=40) | st.text("ABCDEFabcdef0189+/-_=", max_size=12))
def test_base64_decoders_accept_one_spelling_only(text: str) -> None:
    with contextlib.suppress(EncodingError):
        assert b64encode(b64decode_strict(text)) == text
    with contextlib.suppress(EncodingError):
        assert b64url_encode(b64url_decode_strict(text)) == text


# The openers are parsers of untrusted bytes too.
X25519_PAIR = EncryptionKeyPair.from_secret_bytes(SealScheme.X25519, bytes(range(32)))
P256_PAIR = EncryptionKeyPair.from_secret_bytes(SealScheme.P256_ECIES_SE, bytes(range(1, 33)))
X25519_REQUESTER = seal_request(SealScheme.X25519, X25519_PAIR.public_key_b64, b"")[1]
P256_REQUESTER = seal_request(SealScheme.P256_ECIES_SE, P256_PAIR.public_key_b64, b"")[1]


@CRYPTO
@given(st.binary(max_size=120), st.booleans())
def test_openers_only_raise_seal_error(blob: bytes, ecies: bool) -> None:
    pair, requester = (P256_PAIR, P256_REQUESTER) if ecies else (X25519_PAIR, X25519_REQUESTER)
    try:
        open_request(pair, requester, blob)
    except SealError:
        return
    raise AssertionError("random bytes opened")


@CRYPTO
@given(st.text(max_size=100), st.booleans())
def test_openers_with_arbitrary_requester_keys(requester: str, ecies: bool) -> None:
    assume(requester not in (X25519_REQUESTER, P256_REQUESTER))
    pair = P256_PAIR if ecies else X25519_PAIR
    try:
        open_request(pair, requester, bytes(64))
    except CryptoError as exc:
        assert isinstance(exc, SealError | KeyFormatError)
