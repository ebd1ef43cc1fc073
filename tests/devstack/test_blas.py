"""devstack/blas.py: OpenBLAS from Debian's archive, unpacked without root, preloaded into the
provider — and mlx then really multiplies on it, with the same results as numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import blas
from devstack.layout import Layout
from devstack.services import provider_spec
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

PROBE = """
import json, numpy as np, mlx.core as mx
rng = np.random.default_rng(0)
a, b = rng.standard_normal((256, 256), np.float32), rng.standard_normal((256, 256), np.float32)
got = np.array(mx.matmul(mx.array(a), mx.array(b)))
maps = open("/proc/self/maps").read()
print(json.dumps({"close": bool(np.allclose(got, a @ b, rtol=1e-4, atol=1e-3)),
                  "openblas": "libopenblas" in maps}))
"""


def _probe(env: dict[str, str]) -> dict[str, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    result: dict[str, bool] = json.loads(out.stdout)
    return result


def test_without_the_library_the_provider_runs_on_the_bundled_blas(tmp_path: Path) -> None:
    assert blas.library(tmp_path) is None
    assert blas.provider_env(tmp_path) == {}
    spec = provider_spec(Layout(REPO, tmp_path))
    assert "LD_PRELOAD" not in spec.env and spec.env["COCORE_PROVIDER_HOME"]
    assert _probe({}) == {"close": True, "openblas": False}


def test_fetched_openblas_is_preloaded_into_the_provider_and_mlx_uses_it(tmp_path: Path) -> None:
    lib, message = blas.fetch(tmp_path)
    if lib is None:
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    assert lib.name == blas.LIBRARY and lib.is_relative_to(tmp_path / "blas")
    again, _ = blas.fetch(tmp_path)  # unpacked once: the second call only finds it
    assert again == lib
    spec = provider_spec(Layout(REPO, tmp_path))
    assert spec.env["LD_PRELOAD"] == str(lib)
    assert _probe(blas.provider_env(tmp_path)) == {"close": True, "openblas": True}
    kept = blas.provider_env(tmp_path, {"LD_LIBRARY_PATH": "/opt/mine"})
    assert kept["LD_LIBRARY_PATH"] == f"{lib.parent.parent}:/opt/mine"  # the caller's stays
    assert kept["LD_PRELOAD"] == str(lib)
