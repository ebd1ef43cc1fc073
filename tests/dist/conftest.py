"""Loads `tools/provider-dist/build.py` (a script in a folder that is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.conftest import REPO

BUILD_SCRIPT = REPO / "tools" / "provider-dist" / "build.py"


def load_build() -> ModuleType:
    name = "provider_dist_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUILD_SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def build() -> ModuleType:
    return load_build()
