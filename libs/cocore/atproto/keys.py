"""ATProto signing keys: did:key / Multikey public keys, and local P-256 / K-256 signers (low-S)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from atproto_crypto.did import format_did_key, format_multikey, get_did_key, parse_did_key
from atproto_crypto.exceptions import DidKeyError, InvalidCompressedPubkeyError
from coincurve import PublicKey as K256PublicKey
from coincurve._libsecp256k1 import lib as _secp256k1
from coincurve.context import GLOBAL_CONTEXT
from coincurve.ecdsa import deserialize_compact
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import InvalidKey

JwtAlg = Literal["ES256", "ES256K"]

_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "ES256": (ec.SECP256R1(), 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES256K": (ec.SECP256K1(), 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141),
}
_LEGACY_TYPES = ("EcdsaSecp256r1VerificationKey2019", "EcdsaSecp256k1VerificationKey2019")


@dataclass(frozen=True, slots=True)
class AtprotoKey:
    """A public key an ATProto identity signs with: its JWT alg and the uncompressed SEC1 point."""

    jwt_alg: JwtAlg
    public_bytes: bytes

    @property
    def did_key(self) -> str:
        return str(format_did_key(self.jwt_alg, self.public_bytes))

    @property
    def multikey(self) -> str:
        """The `publicKeyMultibase` of a `Multikey` verification method."""
        return str(format_multikey(self.jwt_alg, self.public_bytes))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check a compact r‖s signature over SHA-256(message); high-S signatures are refused."""
        return len(signature) == 64 and _verifier(self)(message, signature)


Verify = Callable[[bytes, bytes], bool]


@functools.lru_cache(maxsize=4096)
def _verifier(key: AtprotoKey) -> Verify:
    """`key` parsed once into its library's public key object (a firehose checks every commit
    against one of a few thousand repo keys). secp256k1 goes to libsecp256k1: OpenSSL's
    generic code for that curve took 0.7 ms per signature, libsecp256k1 takes 0.05 ms."""
    try:
        if key.jwt_alg == "ES256K":
            return _k256_verifier(K256PublicKey(key.public_bytes))
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public_bytes)
    except ValueError:
        return _refuse  # not a point on the curve: nothing verifies against it
    return _p256_verifier(point)


def _refuse(_message: bytes, _signature: bytes) -> bool:
    return False


def _k256_verifier(public: K256PublicKey) -> Verify:
    ctx, point = GLOBAL_CONTEXT.ctx, public.public_key

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            sig = deserialize_compact(signature)
        except ValueError:  # r or s out of range
            return False
        digest = hashlib.sha256(message).digest()
        # libsecp256k1 refuses a high-S signature here, as atproto requires.
        return bool(_secp256k1.secp256k1_ecdsa_verify(ctx, sig, digest, point))

    return verify


def _p256_verifier(public: ec.EllipticCurvePublicKey) -> Verify:
    algorithm, half_order = ec.ECDSA(hashes.SHA256()), _CURVES["ES256"][1] // 2

    def verify(message: bytes, signature: bytes) -> bool:
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not 0 < s <= half_order or r == 0:
            return False
        try:
            public.verify(encode_dss_signature(r, s), message, algorithm)
        except InvalidSignature:
            return False
        return True

    return verify


def parse_did_key_str(did_key: str) -> AtprotoKey:
    """Parse `did:key:z…` (P-256 or secp256k1)."""
    try:
        parsed = parse_did_key(did_key)
    except (DidKeyError, InvalidCompressedPubkeyError, ValueError) as e:
        raise InvalidKey(f"not a P-256 or K-256 did:key ({type(e).__name__})") from e
    alg: JwtAlg = "ES256" if parsed.jwt_alg == "ES256" else "ES256K"
    return AtprotoKey(alg, bytes(parsed.key_bytes))


def key_from_verification_method(method_type: str, multibase: str) -> AtprotoKey:
    """The key of a `Multikey` or legacy `EcdsaSecp256*VerificationKey2019` method."""
    if method_type != "Multikey" and method_type not in _LEGACY_TYPES:
        raise InvalidKey(f"unsupported verification method type {method_type[:60]!r}")
    try:
        did_key = get_did_key(method_type, multibase)
    except (DidKeyError, ValueError) as e:
        raise InvalidKey(f"bad publicKeyMultibase ({type(e).__name__})") from e
    if did_key is None:
        raise InvalidKey("unsupported verification method")
    return parse_did_key_str(did_key)


class SigningKey:
    """A private P-256 (ES256) or secp256k1 (ES256K) key held by a service, for minting JWTs."""

    def __init__(self, jwt_alg: JwtAlg, private_key: ec.EllipticCurvePrivateKey) -> None:
        curve, _ = _CURVES[jwt_alg]
        if private_key.curve.name != curve.name:
            raise InvalidKey(f"{jwt_alg} needs a {curve.name} key, got {private_key.curve.name}")
        self.jwt_alg: JwtAlg = jwt_alg
        self._key = private_key

    @classmethod
    def generate(cls, jwt_alg: JwtAlg = "ES256") -> SigningKey:
        return cls(jwt_alg, ec.generate_private_key(_CURVES[jwt_alg][0]))

    @classmethod
    def from_private_bytes(cls, jwt_alg: JwtAlg, scalar: bytes) -> SigningKey:
        """Load a raw 32-byte private scalar (how atproto stores rotation and signing keys)."""
        if len(scalar) != 32:
            raise InvalidKey("a private key scalar is 32 bytes")
        try:
            key = ec.derive_private_key(int.from_bytes(scalar, "big"), _CURVES[jwt_alg][0])
        except ValueError as e:
            raise InvalidKey("private key scalar out of range") from e
        return cls(jwt_alg, key)

    @property
    def public(self) -> AtprotoKey:
        point = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return AtprotoKey(self.jwt_alg, point)

    def sign(self, message: bytes) -> bytes:
        """ECDSA over SHA-256(message) as compact r‖s, normalised to low-S as atproto requires."""
        der = self._key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        order = _CURVES[self.jwt_alg][1]
        if s > order // 2:
            s = order - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
