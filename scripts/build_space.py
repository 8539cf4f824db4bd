"""Writes a ready Hugging Face Space folder for this app:

    python scripts/build_space.py OUT_DIR --hardware cpu|gpu|zero-gpu [--title "Qwen Playground"]

The folder holds the app's code and assets as they are here, a curated catalogue for the hardware
(in place of the built-in one), `requirements.txt` derived from pyproject.toml's dependencies (Gradio
left out: the Space's `sdk_version` installs it; torch pinned or from the CPU index where the
hardware needs it) and a README.md whose front matter tells the Space how to run: `sdk: gradio` at
the Gradio installed here, `app_file`, `python_version`, `license`, `short_description`, the
`models` it may load, `preload_from_hub` (downloaded when the Space is built) and
`suggested_hardware`. Push it with `hf upload USER/SPACE OUT_DIR --repo-type space` (or git), and set
`HF_TOKEN` as a secret for gated models. In a Space the app starts with its public-demo defaults.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gradio  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402

PYTHON = "3.11"
CODE = ("app.py", "playground", "tabs", "assets")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc")
ZERO_GPU_TORCH = ("torch==2.8.0", "torchvision==0.23.0")  # a pair ZeroGPU supports (its docs list the versions)
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"  # CPU wheels: a far smaller Space image


@dataclass(frozen=True)
class Hardware:
    suggested: str  # the Space's suggested_hardware
    models: tuple[str, ...]  # catalogue keys, curated for it
    preload: bool  # download them when the Space is built (ZeroGPU loads them all at start-up)
    about: str


HARDWARE = {
    # CPU basic, 2 vCPU and 16 GB: the smallest of each kind, a token or more a second.
    "cpu": Hardware("cpu-basic", ("qwen3-0.6b", "qwen3-1.7b", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b",
                                  "qwen2.5-math-1.5b-instruct", "qwen3-vl-2b-instruct"), True,
                    "the smallest Qwen models on a free CPU"),
    # One 24 GB GPU (L4): loaded on first use, evicted when another needs the room.
    "gpu": Hardware("l4x1", ("qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen2.5-coder-7b-instruct", "qwen2.5-coder-1.5b",
                             "qwen2.5-math-7b-instruct", "qwen3-vl-4b-instruct", "qwen3-vl-8b-instruct"), False,
                    "Qwen models up to 8B on one GPU"),
    # ZeroGPU: all of these stay loaded in the ~70 GB slice (about 56 GB at bf16).
    "zero-gpu": Hardware("zero-a10g", ("qwen3-1.7b", "qwen3-8b", "qwen2.5-coder-1.5b", "qwen2.5-math-7b-instruct",
                                       "qwen3-vl-8b-instruct"), True,
                         "Qwen models up to 8B on ZeroGPU"),
}


def curated_catalog(keys: tuple[str, ...]) -> dict[str, dict]:
    """The built-in catalogue's entries for `keys`, as they are (numbers, presets, tasks)."""
    builtin = tomllib.loads((ROOT / "playground" / "catalog.toml").read_text(encoding="utf-8"))["models"]
    missing = [key for key in keys if key not in builtin]
    if missing:
        raise SystemExit(f"not in the built-in catalogue: {missing}")
    return {key: builtin[key] for key in keys}


def requirements(hardware: str) -> list[str]:
    """pyproject.toml's dependencies, without Gradio (the Space's sdk_version) and with torch as the hardware
    needs it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [CPU_INDEX] if hardware == "cpu" else []
    for line in project["dependencies"]:
        name = Requirement(line).name.lower()
        if name == "gradio":
            continue
        if hardware == "zero-gpu" and name in ("torch", "torchvision"):
            line = next(pin for pin in ZERO_GPU_TORCH if pin.startswith(name + "=="))
        lines.append(line)
    return lines


def front_matter(hardware: str, title: str, catalog: dict[str, dict]) -> str:
    spec = HARDWARE[hardware]
    sources = [entry["source"] for entry in catalog.values()]
    lines = ["---", f"title: {title}", "emoji: 🐉", "colorFrom: purple", "colorTo: indigo", "sdk: gradio",
             f"sdk_version: {gradio.__version__}", "app_file: app.py", f'python_version: "{PYTHON}"',
             "license: apache-2.0", f"short_description: Try {spec.about}",
             f"suggested_hardware: {spec.suggested}", "startup_duration_timeout: 1h", "models:",
             *(f"  - {source}" for source in sources)]
    if spec.preload:
        lines += ["preload_from_hub:", *(f"  - {source}" for source in sources)]
    return "\n".join([*lines, "---", ""])


def readme(hardware: str, title: str, catalog: dict[str, dict]) -> str:
    return front_matter(hardware, title, catalog) + f"""
# {title}

Try {HARDWARE[hardware].about}: chat, math, code, vision and Qwen3's thinking on and off, side by side.
Built with Qwen Playground's `scripts/build_space.py --hardware {hardware}`.

Models: {", ".join(catalog)}. Settings are `PLAYGROUND_*` variables in the Space's settings (the app
runs with its public-demo defaults here); set `HF_TOKEN` as a secret for gated models and
`PLAYGROUND_ADMIN_TOKEN` to load and unload models from the Models tab.
"""


def build(out: Path, hardware: str, title: str = "Qwen Playground") -> Path:
    if hardware not in HARDWARE:
        raise SystemExit(f"--hardware must be one of {', '.join(HARDWARE)}, not {hardware!r}")
    out.mkdir(parents=True, exist_ok=True)
    for name in CODE:
        source, target = ROOT / name, out / name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        if source.is_dir():
            shutil.copytree(source, target, ignore=SKIPPED)
        else:
            shutil.copy2(source, target)
    catalog = curated_catalog(HARDWARE[hardware].models)
    write_catalog(out / "playground" / "catalog.toml", catalog)  # the curated list replaces the built-in one
    (out / "requirements.txt").write_text("\n".join(requirements(hardware)) + "\n", encoding="utf-8")
    (out / "README.md").write_text(readme(hardware, title, catalog), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (created if missing)")
    parser.add_argument("--hardware", required=True, choices=list(HARDWARE))
    parser.add_argument("--title", default="Qwen Playground")
    args = parser.parse_args()
    out = build(args.out, args.hardware, args.title)
    print(f"Wrote a {args.hardware} Space to {out}. Push it with: hf upload USER/SPACE {out} --repo-type space")


if __name__ == "__main__":
    main()
