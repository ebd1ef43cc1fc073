"""`cocore verify receipt|settlement FILE`: offline verification, printed as findings JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from cocore.canonical import loads_strict
from cocore.crypto import PublicKey
from cocore.errors import InvalidInput
from cocore.syntax import parse_at_uri, parse_did
from cocore.verify import (
    ChargeContext,
    StrictOptions,
    Verdict,
    verify_for_charge,
    verify_receipt_strict,
    verify_settlement,
)

from .records import Commands, read_input


def register(commands: Commands) -> None:
    verify = commands.add_parser("verify", help="verify a receipt or settlement offline")
    kinds = verify.add_subparsers(dest="kind", required=True, metavar="KIND")
    receipt = kinds.add_parser(
        "receipt",
        help="FILE: {receipt, job, attestation, authorization?, strictOptions?, chargeContext?}",
    )
    receipt.add_argument("file", help="JSON file, or - for stdin")
    receipt.set_defaults(run=_receipt)
    settlement = kinds.add_parser(
        "settlement",
        help="FILE: {settlement, receipt, authorization, exchangeKey, publisherDid|settlementUri}",
    )
    settlement.add_argument("file", help="JSON file, or - for stdin")
    settlement.set_defaults(run=_settlement)


def _load(name: str, required: tuple[str, ...]) -> dict[str, Any]:
    bundle = loads_strict(read_input(name))
    if not isinstance(bundle, dict):
        raise InvalidInput("the file must hold a JSON object")
    for key in required:
        if not isinstance(bundle.get(key), dict):
            raise InvalidInput(f"the file must have an object at {key!r}")
    return bundle


def _print(verdict: Verdict) -> int:
    print(json.dumps(verdict.to_json(), indent=2, ensure_ascii=False))
    return 0 if verdict.ok else 1


def _receipt(args: argparse.Namespace) -> int:
    b = _load(args.file, ("receipt", "job", "attestation"))
    if "chargeContext" in b:
        if not isinstance(b.get("authorization"), dict):
            raise InvalidInput("for-charge checks need the 'authorization' object")
        context = ChargeContext.from_json(b["chargeContext"])
        return _print(
            verify_for_charge(b["receipt"], b["job"], b["attestation"], b["authorization"], context)
        )
    return _print(verify_receipt_strict(b["receipt"], b["job"], b["attestation"], _options(b)))


def _options(bundle: Mapping[str, Any]) -> StrictOptions:
    opts = bundle.get("strictOptions", {})
    if not isinstance(opts, dict):
        raise InvalidInput("strictOptions must be an object")
    expected, uri = opts.get("expectedProvider"), bundle.get("receiptUri")
    return StrictOptions(
        expected_provider=parse_did(expected) if expected is not None else None,
        allow_unbound_attestation=opts.get("allowUnboundAttestation") is True,
        receipt_uri=parse_at_uri(uri) if uri is not None else None,
    )


def _settlement(args: argparse.Namespace) -> int:
    b = _load(args.file, ("settlement", "receipt", "authorization"))
    key = _exchange_key(b.get("exchangeKey"))
    verdict = verify_settlement(
        b["settlement"],
        b["receipt"],
        b["authorization"],
        publisher_did=_publisher(b),
        exchange_key=key,
    )
    return _print(verdict)


def _publisher(bundle: Mapping[str, Any]) -> str:
    """Who published the settlement: stated, or the repo of the settlement's URI."""
    if bundle.get("publisherDid") is not None:
        return parse_did(bundle["publisherDid"])
    if bundle.get("settlementUri") is not None:
        return parse_at_uri(bundle["settlementUri"]).repo
    raise InvalidInput("give publisherDid or settlementUri: who published the settlement?")


def _exchange_key(value: object) -> PublicKey:
    """The exchange key as a public JWK or as cocore's base64 of the 64-byte X‖Y point."""
    if isinstance(value, dict):
        return PublicKey.from_jwk(value)
    if isinstance(value, str):
        return PublicKey.from_cocore_b64(value)
    raise InvalidInput("exchangeKey must be a public JWK object or a base64 P-256 key")
