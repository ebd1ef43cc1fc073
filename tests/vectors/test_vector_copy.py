"""The repo's copy of the shared vectors and lexicons must match the published ones."""

from __future__ import annotations

import filecmp

import pytest

from tests.conftest import REPO, SHARED_VECTORS, VECTORS

SHARED_LEXICONS = REPO.parent / "shared" / "lexicons"


@pytest.mark.skipif(not SHARED_VECTORS.is_dir(), reason="no ../shared next to this checkout")
def test_vector_copy_is_current() -> None:
    names = sorted(p.name for p in SHARED_VECTORS.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(SHARED_VECTORS, VECTORS, names, shallow=False)
    assert mismatch == [] and errors == [], f"stale vector copies: {mismatch + errors}"
    assert sorted(match) == names


@pytest.mark.skipif(not SHARED_LEXICONS.is_dir(), reason="no ../shared next to this checkout")
def test_lexicon_copy_is_current() -> None:
    published = sorted(p.relative_to(SHARED_LEXICONS) for p in SHARED_LEXICONS.rglob("*.json"))
    ours_dir = REPO / "lexicons"
    ours = sorted(p.relative_to(ours_dir) for p in (ours_dir / "dev").rglob("*.json"))
    assert ours == published
    for rel in published:
        assert filecmp.cmp(SHARED_LEXICONS / rel, REPO / "lexicons" / rel, shallow=False), rel


def test_every_vector_file_has_a_test() -> None:
    """Each vector file is named by at least one test module, so none is silently skipped."""
    sources = "".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    missing = [p.name for p in VECTORS.glob("*.json") if f'"{p.name}"' not in sources]
    assert missing == [], f"vector files no test loads: {missing}"
