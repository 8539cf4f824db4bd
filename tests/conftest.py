"""Shared fixtures: tiny random-weight checkpoints, catalogues for them, and the running app.

Everything is built locally at session start; no test downloads anything. Helpers and test
doubles live in `tests/fakes.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.catalogs import write_catalog
from devtools.launch import AppProcess
from devtools.tiny import build_checkpoint, build_tokenizer
from tests.fakes import QWEN3_THINKING_PRESET, TINY_MODELS, tiny_entries


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is visible here")
    for item in items:
        if item.get_closest_marker("gpu") is not None:  # the marker, not any keyword (a parameter id "gpu")
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {key: build_checkpoint(arch, root / key) for key, (arch, _) in TINY_MODELS.items()}


@pytest.fixture(scope="session")
def tiny_catalog_path(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models at the default precisions (bf16 first), as a user's catalogue would have them."""
    return write_catalog(tmp_path_factory.mktemp("catalog") / "tiny.toml", tiny_entries(tiny_checkpoints))


@pytest.fixture(scope="session")
def fp32_catalog_path(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same models loaded in float32, where batching does not change a single logit."""
    entries = tiny_entries(tiny_checkpoints, precision="fp32")
    return write_catalog(tmp_path_factory.mktemp("catalog") / "tiny-fp32.toml", entries)


@pytest.fixture(scope="session")
def thinking_catalog_path(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hybrid Qwen3 and a thinking-only one (its template opens <think>, as Qwen3-*-Thinking-2507's do, so a
    random model is "thinking" from its first token), both in float32."""
    root = tmp_path_factory.mktemp("thinking")
    thinking_only = build_checkpoint("qwen3", root / "thinking-only", opens_thinking=True)
    return write_catalog(root / "thinking.toml", {
        "hybrid": {"source": tiny_checkpoints["tiny-qwen3"], "tasks": ["chat", "thinking"], "precision": "fp32",
                   "sampling": {"thinking": QWEN3_THINKING_PRESET}},
        "thinking-only": {"source": thinking_only, "tasks": ["chat", "thinking"], "thinking_mode": "always",
                          "precision": "fp32", "sampling": QWEN3_THINKING_PRESET},
    })


@pytest.fixture(scope="session")
def qwen3_tokenizer():
    """A tokenizer with Qwen's special tokens and Qwen3's chat template (for scripted models)."""
    return build_tokenizer("qwen3")


@pytest.fixture(scope="session")
def app_url(tiny_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real app, launched with the tiny catalogue, shared by the API tests."""
    with AppProcess(tiny_catalog_path, tmp_path_factory.mktemp("app") / "app.log", "--device", "cpu") as app:
        yield app.url


@pytest.fixture(scope="session")
def batched_app_url(fp32_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real app with batching on (on the CPU) and the float32 tiny catalogue."""
    log_path = tmp_path_factory.mktemp("batched-app") / "app.log"
    with AppProcess(fp32_catalog_path, log_path, "--device", "cpu", "--batching", "on") as app:
        yield app.url
