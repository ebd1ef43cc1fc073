"""P-256 keys in cocore's encodings (64-byte X‖Y b64, JWK, PKCS8 PEM), signing and verifying."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cocore.canonical import canonicalize

from .ecdsa import P256_FIELD_PRIME, P256_ORDER, der_to_raw, parse_der_strict, parse_raw
from .encoding import (
    b64decode_strict,
    b64encode,
    b64url_decode_strict,
    b64url_encode,
    sha256_hex,
)
from .errors import CryptoError, EncodingError, KeyFormatError, SignatureFormatError

__all__ = ["PublicKey", "SigningKey", "jwk_fingerprint"]

_CURVE = ec.SECP256R1()
_ECDSA = ec.ECDSA(hashes.SHA256())
_ECDSA_RFC6979 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
RAW_XY_LEN = 64


class PublicKey:
    """A P-256 public key. Build it with a `from_*` constructor; it is always on the curve."""

    __slots__ = ("_key", "_raw")

    def __init__(self, key: ec.EllipticCurvePublicKey, *, _raw_xy: bytes | None = None) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyFormatError(f"expected a P-256 key, got {key.curve.name}")
        self._key = key
        raw_xy = _raw_xy
        if raw_xy is None:  # from_raw_xy passes the bytes it decoded, saving a re-encode
            point = key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            raw_xy = point[1:]
        self._raw = raw_xy

    @classmethod
    def from_raw_xy(cls, raw: bytes) -> Self:
        """From the raw 64-byte X‖Y (no 0x04 prefix). 65- and 33-byte SEC1 forms are refused."""
        if not isinstance(raw, bytes) or len(raw) != RAW_XY_LEN:
            size = len(raw) if isinstance(raw, bytes) else type(raw).__name__
            raise KeyFormatError(f"expected 64 raw P-256 bytes (X‖Y), got {size}")
        x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if x >= P256_FIELD_PRIME or y >= P256_FIELD_PRIME:
            raise KeyFormatError("P-256 coordinate is not below the field prime")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x04" + raw)
        except ValueError:
            raise KeyFormatError("the bytes are not a point on the P-256 curve") from None
        return cls(key, _raw_xy=raw)

    @classmethod
    def from_cocore_b64(cls, text: str) -> Self:
        """From cocore's wire form: standard base64 of the 64-byte X‖Y (88 characters)."""
        try:
            raw = b64decode_strict(text)
        except EncodingError as exc:
            raise KeyFormatError(f"public key: {exc}") from None
        return cls.from_raw_xy(raw)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Self:
        """From a JWK {kty: EC, crv: P-256, x, y} (b64url, 32 bytes each); other members ignored."""
        x, y = _jwk_coordinates(jwk)
        return cls.from_raw_xy(x + y)

    @property
    def raw_xy(self) -> bytes:
        return self._raw

    def to_cocore_b64(self) -> str:
        return b64encode(self._raw)

    def to_jwk(self) -> dict[str, str]:
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(self._raw[:32]),
            "y": b64url_encode(self._raw[32:]),
        }

    def verify_der(self, signature: bytes, message: bytes) -> bool:
        """True iff `signature` is strict DER and valid over `message` (SHA-256 inside).

        Both S forms verify (no low-S rule). A signature that is not strict DER returns False;
        use `parse_der_strict` first to tell "malformed" from "wrong".
        """
        _require_bytes(message)
        try:
            parse_der_strict(signature)
        except SignatureFormatError:
            return False
        return self._verify(signature, message)

    def verify_raw(self, signature: bytes, message: bytes) -> bool:
        """True iff `signature` is a 64-byte r‖s valid over `message`; malformed returns False."""
        _require_bytes(message)
        try:
            r, s = parse_raw(signature)
        except SignatureFormatError:
            return False
        return self._verify(encode_dss_signature(r, s), message)

    def _verify(self, der: bytes, message: bytes) -> bool:
        try:
            self._key.verify(der, message, _ECDSA)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"PublicKey({self.to_cocore_b64()!r})"


class SigningKey:
    """A P-256 private key. `repr` never shows the secret."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyFormatError(f"expected a P-256 key, got {key.curve.name}")
        self._key = key
        self.public_key = PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> Self:
        return cls(ec.generate_private_key(_CURVE))

    @classmethod
    def from_scalar(cls, scalar: int) -> Self:
        """From the private scalar d, 1 ≤ d < n."""
        if isinstance(scalar, bool) or not isinstance(scalar, int) or not 0 < scalar < P256_ORDER:
            raise KeyFormatError("P-256 private scalar must be an integer in [1, n-1]")
        return cls(ec.derive_private_key(scalar, _CURVE))

    @classmethod
    def from_private_jwk(cls, jwk: Mapping[str, Any]) -> Self:
        """From a private JWK {kty, crv, x, y, d}; x and y must match d."""
        x, y = _jwk_coordinates(jwk)
        d = _jwk_member(jwk, "d")
        key = cls.from_scalar(int.from_bytes(d, "big"))
        if key.public_key.raw_xy != x + y:
            raise KeyFormatError("private JWK: x/y do not match d")
        return key

    @classmethod
    def from_pem(cls, data: bytes) -> Self:
        """From an unencrypted PKCS8 (or SEC1) PEM private key."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyFormatError("not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyFormatError("PEM private key is not an elliptic-curve key")
        return cls(key)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS8 PEM, for keys kept on disk with tight file permissions."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_scalar(self) -> int:
        return self._key.private_numbers().private_value

    def to_private_jwk(self) -> dict[str, str]:
        d = b64url_encode(self.to_scalar().to_bytes(32, "big"))
        return {**self.public_key.to_jwk(), "d": d}

    def sign_der(self, message: bytes, deterministic: bool = False) -> bytes:
        """ECDSA/SHA-256 as DER. `deterministic` uses RFC 6979; S is never normalised."""
        _require_bytes(message)
        return self._key.sign(message, _ECDSA_RFC6979 if deterministic else _ECDSA)

    def sign_raw(self, message: bytes, deterministic: bool = False) -> bytes:
        """ECDSA/SHA-256 as 64-byte r‖s (the settlement form)."""
        return der_to_raw(self.sign_der(message, deterministic))

    def ecdh(self, peer: PublicKey) -> bytes:
        """The 32-byte X-coordinate of d·Q (the `Z` of p256-ecies-se)."""
        return self._key.exchange(ec.ECDH(), peer._key)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public_key.to_cocore_b64()!r})"


def jwk_fingerprint(jwk: Mapping[str, Any]) -> str:
    """b64url(sha256(canonical {crv, kty, x, y} + alg/kid when present)); `d` is never included."""
    PublicKey.from_jwk(jwk)
    members = {name: jwk[name] for name in ("alg", "crv", "kid", "kty", "x", "y") if name in jwk}
    for name in ("alg", "kid"):
        if name in members and not isinstance(members[name], str):
            raise KeyFormatError(f"JWK member {name!r} must be a string")
    digest = bytes.fromhex(sha256_hex(canonicalize(members)))
    return b64url_encode(digest)


def _jwk_coordinates(jwk: Mapping[str, Any]) -> tuple[bytes, bytes]:
    if not isinstance(jwk, Mapping):
        raise KeyFormatError(f"JWK must be a mapping, got {type(jwk).__name__}")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyFormatError("JWK is not {kty: EC, crv: P-256}")
    return _jwk_member(jwk, "x"), _jwk_member(jwk, "y")


def _jwk_member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyFormatError(f"JWK member {name!r} is missing or not a string")
    try:
        data = b64url_decode_strict(value)
    except EncodingError as exc:
        raise KeyFormatError(f"JWK member {name!r}: {exc}") from None
    if len(data) != 32:
        raise KeyFormatError(f"JWK member {name!r} must decode to 32 bytes, got {len(data)}")
    return data


def _require_bytes(message: object) -> None:
    if not isinstance(message, bytes):
        raise CryptoError(f"message must be bytes, got {type(message).__name__}")
