"""Deliberate, documented departures from the published lexicons, applied when they load.

The files in `lexicons/` stay verbatim copies of the published schemas; every departure is
listed here with its reason, and fails loudly if the lexicon it corrects ever changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .issues import LexiconLoadError


@dataclass(frozen=True)
class Erratum:
    nsid: str
    pointer: tuple[str, ...]  # path inside the lexicon document
    published: Any  # the value the published lexicon has
    corrected: Any
    why: str


_CC = (
    "the closed-loop exchange settles in `CC` (two letters), as the reference exchange does "
    "and issue 3 requires, but the published money schema demands at least three"
)

ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "dev.cocore.compute.defs",
        ("defs", "money", "properties", "currency", "minLength"),
        3,
        2,
        _CC,
    ),
    Erratum(
        "dev.cocore.compute.defs",
        ("defs", "tokenRate", "properties", "currency", "minLength"),
        3,
        2,
        _CC,
    ),
    Erratum(
        "dev.cocore.compute.defs",
        ("defs", "modelPrice", "properties", "currency", "minLength"),
        3,
        2,
        _CC,
    ),
    Erratum(
        "dev.cocore.compute.exchangePolicy",
        ("defs", "main", "record", "properties", "supportedCurrencies", "items", "minLength"),
        3,
        2,
        _CC,
    ),
    Erratum(
        "dev.cocore.compute.exchangePolicy",
        ("defs", "feeSchedule", "properties", "currency", "minLength"),
        3,
        2,
        _CC,
    ),
)


def apply_errata(documents: dict[str, Any]) -> None:
    """Correct the loaded documents in place (lexicons that are not loaded are skipped)."""
    for erratum in ERRATA:
        if erratum.nsid not in documents:
            continue
        node = documents[erratum.nsid]
        for key in erratum.pointer[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        last = erratum.pointer[-1]
        if not isinstance(node, dict) or node.get(last) != erratum.published:
            where = "/".join(erratum.pointer)
            raise LexiconLoadError(
                f"erratum for {erratum.nsid} {where} no longer matches the lexicon "
                f"(expected {erratum.published!r}); review cocore/lexicon/errata.py"
            )
        node[last] = erratum.corrected
