"""The same loading and generation paths on a CUDA GPU, with a real Qwen3-0.6B shape.

Random weights with the catalogue's Qwen3-0.6B architecture give real memory figures
without downloading anything. Skipped (with the reason shown) where no GPU is visible.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from playground.catalog import load_catalog
from playground.generation import Answer, Cancel, Engine, GenerationRequest, Metrics
from playground.loading import TransformersLoader
from playground.memory import Precision, weight_bytes
from playground.registry import Registry
from playground.tiny import build_checkpoint, real_shape

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    folder = build_checkpoint("qwen3", tmp_path_factory.mktemp("gpu") / "qwen3-0.6b-shaped", **real_shape("qwen3-0.6b"))
    catalog_file = folder.parent / "gpu.toml"
    catalog_file.write_text(f'[models.shaped]\nsource = "{folder}"\ntasks = ["chat", "thinking"]\n')
    registry = Registry(load_catalog(catalog_file), TransformersLoader("cuda"))
    yield Engine(registry)
    registry.close()


@pytest.mark.parametrize("precision", list(Precision))
def test_each_precision_on_cuda_matches_its_estimate(cuda_engine: Engine, precision: Precision) -> None:
    request = GenerationRequest(model="shaped", messages=[{"role": "user", "content": "Hi"}], max_new_tokens=32,
                                temperature=0, precision=precision)
    events = list(cuda_engine.stream(request))
    metrics = events[-1]
    assert isinstance(metrics, Metrics) and metrics.tokens == 32 and metrics.precision is precision
    state = next(s for s in cuda_engine.registry.snapshot() if s.precision is precision)
    estimated = weight_bytes(cuda_engine.registry.catalog.get("shaped"), precision)
    assert abs(estimated / state.footprint - 1) < 0.15
    assert 0 < metrics.peak_memory < torch.cuda.get_device_properties(0).total_memory
    cuda_engine.registry.unload("shaped")


def test_stop_on_cuda_halts_within_a_few_tokens(cuda_engine: Engine) -> None:
    cancel = Cancel()
    request = GenerationRequest(model="shaped", messages=[{"role": "user", "content": "Hi"}], max_new_tokens=4000)
    answers = 0
    for event in cuda_engine.stream(request, cancel):
        if isinstance(event, Answer):
            answers += 1
            if answers == 3:
                cancel.set()
        if isinstance(event, Metrics):
            assert event.stopped and event.tokens < 40


def test_gpu_memory_is_returned_after_unload(cuda_engine: Engine, tmp_path: Path) -> None:
    before = torch.cuda.memory_allocated()
    cuda_engine.registry.load("shaped", Precision.BF16)
    assert torch.cuda.memory_allocated() > before
    cuda_engine.registry.unload("shaped")
    assert torch.cuda.memory_allocated() <= before + 16 * 1024**2
