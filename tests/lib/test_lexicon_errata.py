"""The documented lexicon errata: CC is a valid currency, and a stale erratum fails loudly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cocore.lexicon import LexiconRegistry, default_registry, ids
from cocore.lexicon.errata import ERRATA
from cocore.lexicon.issues import LexiconLoadError
from tests.conftest import REPO


def test_cc_is_a_valid_currency_everywhere_money_appears() -> None:
    registry = default_registry()
    money = {"amount": 5, "currency": "CC"}
    auth = {
        "exchange": "did:plc:exchangeexchangeexchange",
        "ceiling": money,
        "scope": "singleJob",
        "nonce": "0" * 32,
        "expiresAt": "2026-05-07T13:00:00Z",
        "createdAt": "2026-05-07T12:00:00Z",
    }
    assert registry.validate_record(ids.COMPUTE_PAYMENT_AUTHORIZATION, auth) == []
    too_short = {**auth, "ceiling": {"amount": 5, "currency": "C"}}
    assert [i.path for i in registry.validate_record(ids.COMPUTE_PAYMENT_AUTHORIZATION, too_short)]


def test_a_stale_erratum_fails_the_load(tmp_path: Path) -> None:
    shutil.copytree(REPO / "lexicons", tmp_path / "lexicons")
    erratum = ERRATA[0]
    path = tmp_path / "lexicons" / Path(*erratum.nsid.split(".")).with_suffix(".json")
    doc = json.loads(path.read_text())
    node = doc
    for key in erratum.pointer[:-1]:
        node = node[key]
    node[erratum.pointer[-1]] = 4  # the published lexicon "changed"
    path.write_text(json.dumps(doc))
    with pytest.raises(LexiconLoadError, match="erratum"):
        LexiconRegistry.load(tmp_path / "lexicons")


def test_every_erratum_says_why() -> None:
    assert all(e.why and e.published != e.corrected for e in ERRATA)
