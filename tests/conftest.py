"""Shared fixtures: tiny random-weight checkpoints, a catalogue for them, and the running app.

Everything is built locally at session start; no test downloads anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.launch import AppProcess
from playground.tiny import build_checkpoint

# The tiny models as catalogue entries: key -> (architecture for playground.tiny, tasks).
TINY_MODELS = {
    "tiny-qwen2": ("qwen2", ["chat", "math", "code"]),
    "tiny-qwen3": ("qwen3", ["chat", "math", "code", "thinking"]),
    "tiny-qwen3-moe": ("qwen3_moe", ["chat", "thinking"]),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is visible here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {key: build_checkpoint(arch, root / key) for key, (arch, _) in TINY_MODELS.items()}


def catalog_toml(checkpoints: dict[str, Path]) -> str:
    """A catalogue whose local entries leave architecture numbers to config.json."""
    parts = []
    for key, path in checkpoints.items():
        _, tasks = TINY_MODELS[key]
        parts.append(f'[models.{key}]\nsource = "{path}"\ntasks = {tasks!r}\n'.replace("'", '"'))
        if "thinking" in tasks:
            parts.append(f"[models.{key}.sampling.thinking]\ntemperature = 0.6\ntop_p = 0.95\ntop_k = 20\n")
    return "\n".join(parts)


@pytest.fixture(scope="session")
def tiny_catalog_path(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "tiny.toml"
    path.write_text(catalog_toml(tiny_checkpoints), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def app_url(tiny_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real app, launched with the tiny catalogue, shared by the API and browser tests."""
    with AppProcess(tiny_catalog_path, tmp_path_factory.mktemp("app") / "app.log", "--device", "cpu") as app:
        yield app.url

