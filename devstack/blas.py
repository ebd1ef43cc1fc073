"""OpenBLAS for the local provider's CPU engine, from Debian's archive, without root.

On Linux, mlx runs on the CPU and its wheel bundles the reference BLAS. A float32 model's
matmuls go through `cblas_sgemm`, which OpenBLAS runs many times faster on this machine:
SmolLM2-135M in float32, a 63-token prompt, first token 5.5 s → 0.35 s, decoding 8 → 15
tokens/s. `apt-get download` fetches the packages as any user and `dpkg-deb -x` unpacks them
under `var/blas`; the provider then starts with `LD_PRELOAD` naming the library (mlx's own
symbols lose to a preloaded library's). Where apt is missing or the download fails, the
stack runs on the bundled BLAS — slower, the same answers — and `make up` says so.

    python -m devstack.blas        (what `make up` runs first; instant once unpacked)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from services.provider.models import CPU_ONLY

from .layout import Layout

# The pthread build and what it links that a minimal Debian or Ubuntu may lack.
PACKAGES = ("libopenblas0-pthread", "libgfortran5", "libquadmath0")
LIBRARY = "libopenblas.so.0"
TIMEOUT_S = 300


def library(var: Path) -> Path | None:
    """The unpacked OpenBLAS under `var/blas`, if there is one."""
    found = sorted((var / "blas" / "root").glob(f"usr/lib/*/openblas-pthread/{LIBRARY}"))
    return found[0] if found else None


def provider_env(var: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What the provider process needs to run on the unpacked OpenBLAS (empty: bundled BLAS),
    ahead of whatever the caller's environment already preloads or searches."""
    lib = library(var)
    if lib is None:
        return {}
    # libopenblas links libgfortran (and it libquadmath) from the same unpacked tree.
    pairs = {"LD_PRELOAD": str(lib), "LD_LIBRARY_PATH": str(lib.parent.parent)}
    return {k: ":".join(filter(None, (v, environ.get(k, "")))) for k, v in pairs.items()}


def fetch(var: Path) -> tuple[Path | None, str]:
    """Download and unpack the packages once; (the library, what happened) — never raises
    for a machine that cannot: the stack then runs without it."""
    if not CPU_ONLY:
        return None, "not needed here (mlx uses Accelerate/Metal on macOS)"
    if (lib := library(var)) is not None:
        return lib, f"OpenBLAS: {lib}"
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        return None, "no apt-get/dpkg-deb here: the model runs on mlx's bundled (slow) BLAS"
    target = var / "blas"
    with tempfile.TemporaryDirectory(prefix="blas-", dir=var) as tmp:
        try:
            subprocess.run(  # noqa: S603 - fixed argv, package names from PACKAGES
                [apt, "download", *PACKAGES], cwd=tmp, check=True,
                capture_output=True, text=True, timeout=TIMEOUT_S,
            )  # fmt: skip
            unpacked = Path(tmp) / "root"
            for deb in sorted(Path(tmp).glob("*.deb")):
                subprocess.run(  # noqa: S603 - dpkg-deb on the files just downloaded
                    [dpkg, "-x", str(deb), str(unpacked)], check=True,
                    capture_output=True, text=True, timeout=TIMEOUT_S,
                )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            why = (getattr(e, "stderr", "") or "").strip().splitlines()[-1:] or ["timed out"]
            return None, f"OpenBLAS unavailable ({why[0]}): the model runs on the bundled BLAS"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        unpacked.rename(target / "root")
    lib = library(var)
    if lib is None:
        return None, f"the packages hold no {LIBRARY}: the model runs on the bundled BLAS"
    return lib, f"OpenBLAS: {lib}"


def main() -> int:
    lay = Layout.from_env(Path(__file__).resolve().parent.parent)
    lay.var.mkdir(exist_ok=True)
    _, message = fetch(lay.var)
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
