"""Estimated versus measured weight footprint at each precision (goal: within 15%).

For each model, the registry's estimate (`playground.memory.weight_bytes`, from catalogue
numbers alone) is compared with `model.get_memory_footprint()` after loading the checkpoint
through the app's own loader at bf16, int8 and NF4. Also prints how much of a Qwen3-MoE
model bitsandbytes leaves unquantized.

    python benchmarks/footprint.py [--device cpu|cuda] [--shape qwen3-0.6b --shape qwen3-30b-a3b ...]

Default models: the tiny random-weight Qwen2, Qwen3 and Qwen3-MoE checkpoints. `--shape KEY`
adds a random-weight model with the architecture of catalogue model KEY (needs the memory
to hold it). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.tiny import build_checkpoint, real_shape, shape_arch  # noqa: E402
from playground.catalog import load_catalog  # noqa: E402
from playground.loading import TransformersLoader  # noqa: E402
from playground.memory import LADDER, format_bytes, weight_bytes  # noqa: E402
from playground.settings import Settings  # noqa: E402


def unquantized_share(model: torch.nn.Module) -> float:
    """Fraction of parameter bytes still stored as 16/32-bit floats."""
    floats = total = 0
    for p in model.parameters():
        size = p.numel() * p.element_size()
        total += size
        floats += size if p.dtype in (torch.float16, torch.bfloat16, torch.float32) else 0
    return floats / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", action="append", default=[], help="catalogue key to copy the shape of")
    args = parser.parse_args()
    loader = TransformersLoader(Settings(device=args.device))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        entries = [(f"tiny-{arch}", arch, {}) for arch in ("qwen2", "qwen3", "qwen3_moe")]
        for key in args.shape:
            spec = load_catalog().get(key)
            entries.append((f"{key}-shaped", shape_arch(key), real_shape(key)))
        models = {}
        for name, arch, overrides in entries:
            folder = build_checkpoint(arch, tmp / name, device=args.device, **overrides)
            models[name] = {"source": folder, "tasks": ["chat"]}
        catalog = load_catalog(write_catalog(tmp / "bench.toml", models))

        print(f"device: {args.device}")
        print(f"{'model':<26}{'precision':<10}{'estimated':>12}{'measured':>12}{'error':>9}{'16-bit share':>14}")
        worst = 0.0
        for spec in catalog:
            for precision in LADDER:
                loaded = loader.load(spec, precision, kv_tokens=0)
                estimated = weight_bytes(spec, precision)
                error = estimated / loaded.footprint - 1
                worst = max(worst, abs(error))
                share = unquantized_share(loaded.model)
                print(f"{spec.key:<26}{precision:<10}{format_bytes(estimated):>12}{format_bytes(loaded.footprint):>12}"
                      f"{error:>+9.1%}{share:>14.0%}")
                loader.unload(loaded)
        print(f"worst estimate error: {worst:.1%} (goal <= 15%)")


if __name__ == "__main__":
    main()
