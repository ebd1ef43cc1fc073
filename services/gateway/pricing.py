"""Prices in integer minor units: the tight ceiling a job is held for, and the rate price.

The ceiling bounds what the provider can bill: every prompt token is at least one byte of the
rendered chat template (byte-level tokenizers), so the input is bounded by the sealed bytes,
the tool and schema definitions the template adds, and a per-message template allowance; the
output by `max_tokens`. It is priced at the exchange's published `tokenRate` (§6 item 5: no
fixed 100 000 CC ceiling) plus the one minor unit of rounding the exchange tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass

MICRO = 1_000_000
TEMPLATE_BYTES_PER_MESSAGE = 32
TEMPLATE_BYTES_FIXED = 512


@dataclass(frozen=True, slots=True)
class TokenRate:
    in_per_mtok: int
    out_per_mtok: int
    currency: str


def input_token_bound(input_bytes: int, spec_bytes: int, messages: int) -> int:
    return (
        input_bytes + 2 * spec_bytes + TEMPLATE_BYTES_PER_MESSAGE * messages + TEMPLATE_BYTES_FIXED
    )


def ceiling(tokens_in_bound: int, max_tokens: int, rate: TokenRate) -> int:
    micro = tokens_in_bound * rate.in_per_mtok + max_tokens * rate.out_per_mtok
    return -(-micro // MICRO) + 1


def rate_price(tokens_in: int, tokens_out: int, rate: TokenRate) -> int:
    """What a receipt priced at the rate carries (floored, as the exchange computes it)."""
    return (tokens_in * rate.in_per_mtok + tokens_out * rate.out_per_mtok) // MICRO
