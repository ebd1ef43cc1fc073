"""Shared pytest configuration: paths to the repo, the shared vectors, and fixture plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import ast_guard

ast_guard.install()  # before any test thread parses (see the module)

REPO = Path(__file__).resolve().parent.parent
# The repo keeps its own copy of the cross-implementation vectors (CI has no ../shared);
# tests/vectors/test_vector_copy.py checks the copy against ../shared when that exists.
VECTORS = REPO / "tests" / "vectors" / "data"
SHARED_VECTORS = REPO.parent / "shared" / "vectors"

# Fixture modules, one per real component (each starts only what a test asks for).
pytest_plugins: list[str] = [
    "tests.fixtures.postgres",
    "tests.fixtures.atproto",
    "tests.fixtures.models",
    "tests.fixtures.network",
]


def load_vector(name: str) -> Any:
    """Load one file of the cross-implementation vectors."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
