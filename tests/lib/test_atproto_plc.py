"""PLC operations (prev, signature) and finding an exchange's settlement key in a DID document."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from atproto_crypto.multibase import bytes_to_multibase
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cocore.atproto import exchange_settlement_key
from cocore.atproto.keys import SigningKey as AtprotoSigningKey
from cocore.atproto.plc import (
    PlcOperationRefused,
    multibase,
    operation_cid,
    p256_did_key,
    sign_operation,
    update_operation,
)
from cocore.crypto import SigningKey, is_high_s
from cocore.syntax import dag_cbor

DID = "did:plc:abcdefghijklmnopqrstuvwx"


def _genesis(rotation: AtprotoSigningKey) -> dict[str, Any]:
    return sign_operation({
        "type": "plc_operation", "rotationKeys": [rotation.public.did_key],
        "verificationMethods": {"atproto": rotation.public.did_key},
        "alsoKnownAs": ["at://someone.test"],
        "services": {"atproto_pds": {"type": "AtprotoPersonalDataServer",
                                     "endpoint": "https://pds.example"}},
        "prev": None,
    }, rotation)  # fmt: skip


def test_an_update_chains_to_the_last_operation_and_verifies() -> None:
    rotation = AtprotoSigningKey.generate("ES256")
    genesis = _genesis(rotation)
    settlement = SigningKey.generate().public_key
    methods = {**genesis["verificationMethods"], "cocore_exchange": p256_did_key(settlement)}
    update = sign_operation(update_operation(genesis, verificationMethods=methods), rotation)
    assert update["prev"] == operation_cid(genesis)
    assert update["rotationKeys"] == genesis["rotationKeys"]
    signature = base64.urlsafe_b64decode(update["sig"] + "=" * (-len(update["sig"]) % 4))
    unsigned = {k: v for k, v in update.items() if k != "sig"}
    assert rotation.public.verify(dag_cbor(unsigned), signature)
    r, s = signature[:32], signature[32:]
    assert not is_high_s(r + s)


def test_only_plc_operation_fields_change() -> None:
    genesis = _genesis(AtprotoSigningKey.generate("ES256"))
    with pytest.raises(PlcOperationRefused):
        update_operation(genesis, prev="x")
    with pytest.raises(PlcOperationRefused):
        update_operation({"type": "plc_tombstone", "prev": "x", "sig": "y"}, alsoKnownAs=[])


def _doc(*methods: dict[str, Any]) -> dict[str, Any]:
    return {"id": DID, "verificationMethod": list(methods)}


KEY = SigningKey.generate().public_key
MULTIBASE = multibase(p256_did_key(KEY))


@pytest.mark.parametrize(
    ("doc", "found"),
    [
        (_doc({"id": "#cocore_exchange", "type": "Multikey", "publicKeyMultibase": MULTIBASE}),
         True),
        (_doc({"id": f"{DID}#cocore_exchange", "type": "Multikey",
               "publicKeyMultibase": MULTIBASE}), True),
        (_doc({"id": "#cocore_exchange", "type": "JsonWebKey2020",
               "publicKeyJwk": KEY.to_jwk()}), True),
        # the reference's did:web document: a P-256 JWK under any id
        (_doc({"id": "did:web:x#key-1", "type": "JsonWebKey2020", "publicKeyJwk": KEY.to_jwk()}),
         True),
        (_doc({"id": "#atproto", "type": "Multikey", "publicKeyMultibase": MULTIBASE}), False),
        (_doc({"id": "#cocore_exchange", "type": "Multikey",
               "publicKeyMultibase": AtprotoSigningKey.generate("ES256K").public.multikey}),
         False),
        (_doc({"id": "#cocore_exchange", "type": "Multikey", "publicKeyMultibase": "zzz"}), False),
        (_doc({"id": "#cocore_exchange", "type": "Unknown", "publicKeyMultibase": MULTIBASE}),
         False),
        ({"id": DID}, False),
    ],
)  # fmt: skip
def test_exchange_settlement_key(doc: dict[str, Any], found: bool) -> None:
    key = exchange_settlement_key(doc)
    assert (key == KEY) if found else key is None


def test_the_legacy_verification_method_type_is_read_too() -> None:
    # What @did-plc/server 0.0.1 (the local stack) writes for a P-256 did:key: the compressed
    # point in base58btc, without the multicodec prefix a Multikey carries.
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + KEY.raw_xy)
    raw = point.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    legacy = bytes_to_multibase("z", raw)
    doc = _doc({"id": "#cocore_exchange", "type": "EcdsaSecp256r1VerificationKey2019",
                "publicKeyMultibase": legacy})  # fmt: skip
    assert exchange_settlement_key(doc) == KEY
