"""Settlement verification: the reference's chain checks plus the signature it never checks.

Deliberate differences from the reference `verifySettlementChain`:
  * `sig` is verified (raw r‖s, base64url, over the canonical JSON without `sig` and
    `$type`) against the exchange's key (`no-signature`, `signature-invalid`);
  * the receipt and authorization strongRefs must carry the CIDs of the records supplied
    (`receipt-link-mismatch`, `auth-link-mismatch`);
  * amounts must be non-negative integers and all three share one currency;
  * the record is checked against its lexicon (`lexicon-invalid`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocore.canonical import CanonicalError
from cocore.crypto import CryptoError, PublicKey, b64url_decode_strict
from cocore.lexicon import ids
from cocore.signing import settlement_signing_bytes

from .binding import check_lexicon, check_strong_ref
from .fields import get_int, get_str, is_count
from .findings import Findings, Verdict

MONEY_FIELDS = ("amountCharged", "providerPayout", "exchangeFee")


def verify_settlement(
    settlement: Mapping[str, Any],
    receipt: Mapping[str, Any],
    authorization: Mapping[str, Any],
    *,
    publisher_did: str,
    exchange_key: PublicKey | None,
    require_signature: bool = True,
) -> Verdict:
    """Check a settlement against its receipt, the authorization and the exchange's key."""
    out = Findings()
    check_lexicon(out, "settlement", ids.COMPUTE_SETTLEMENT, settlement)
    check_settlement_chain(out, settlement, receipt, authorization, publisher_did)
    check_strong_ref(
        out,
        "receipt-link-mismatch",
        label="receipt",
        ref=settlement.get("receipt"),
        nsid=ids.COMPUTE_RECEIPT,
        record=receipt,
    )
    check_strong_ref(
        out,
        "auth-link-mismatch",
        label="requesterAuthorization",
        ref=settlement.get("requesterAuthorization"),
        nsid=ids.COMPUTE_PAYMENT_AUTHORIZATION,
        record=authorization,
    )
    _check_signature(out, settlement, exchange_key, require_signature)
    return out.verdict()


def check_settlement_chain(
    out: Findings,
    settlement: Mapping[str, Any],
    receipt: Mapping[str, Any],
    authorization: Mapping[str, Any],
    publisher_did: str,
) -> None:
    """The reference's arithmetic and ownership checks, in its order."""
    if authorization.get("exchange") != publisher_did:
        out.error("wrong-exchange", f"the authorization names {authorization.get('exchange')}")
    charged = get_int(settlement, "amountCharged", "amount")
    currency = get_str(settlement, "amountCharged", "currency")
    currencies = {get_str(settlement, f, "currency") for f in MONEY_FIELDS}
    if currency != get_str(authorization, "ceiling", "currency") or len(currencies) != 1:
        out.error(
            "currency-mismatch", "settlement amounts and the authorization differ in currency"
        )
    else:
        ceiling = get_int(authorization, "ceiling", "amount")
        if charged is None or ceiling is None or charged > ceiling:
            out.error("over-ceiling", f"amountCharged {charged} exceeds the authorization ceiling")
    for money in MONEY_FIELDS:
        if not is_count(get_int(settlement, money, "amount")):
            out.error("non-negative-integer", f"{money}.amount must be an integer ≥ 0")
    payout = get_int(settlement, "providerPayout", "amount")
    fee = get_int(settlement, "exchangeFee", "amount")
    if charged is None or payout is None or fee is None or charged != payout + fee:
        out.error(
            "split-mismatch", f"amountCharged {charged} ≠ providerPayout {payout} + fee {fee}"
        )
    price = get_int(receipt, "price", "amount")
    if settlement.get("status") == "settled" and charged != price:
        out.error(
            "amount-vs-price", f"amountCharged {charged} differs from the receipt price {price}"
        )


def _check_signature(
    out: Findings, settlement: Mapping[str, Any], key: PublicKey | None, required: bool
) -> None:
    sig = get_str(settlement, "sig")
    if not sig:
        if required:
            out.error("no-signature", "the settlement carries no sig")
        return
    if key is None:
        out.warn("signature-unchecked", "no exchange key was given, so sig was not verified")
        return
    try:
        valid = key.verify_raw(b64url_decode_strict(sig), settlement_signing_bytes(settlement))
    except CryptoError as e:
        out.error("signature-verify-error", f"sig is not base64url raw r‖s: {e}")
        return
    except CanonicalError as e:
        out.error("signature-verify-error", f"settlement cannot be canonicalised: {e}")
        return
    if not valid:
        out.error("signature-invalid", "sig does not verify under the exchange key")
