"""The same loading and generation paths on a CUDA GPU, with a real Qwen3-0.6B shape (and tiny Qwen-VL models).

Random weights with the catalogue's Qwen3-0.6B architecture give real memory figures
without downloading anything. Each test builds its own registry, so none depends on what
another left loaded. Skipped (with the reason shown) where no GPU is visible.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from devtools.catalogs import write_catalog
from devtools.tiny import build_checkpoint, real_shape
from playground.catalog import Sampling, load_catalog
from playground.engine import Engine
from playground.loading import TransformersLoader
from playground.memory import Precision, weight_bytes
from playground.registry import Registry
from playground.requests import Answer, Cancel, Metrics, Request
from playground.settings import Settings, Switch

pytestmark = pytest.mark.gpu

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def shaped_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gpu")
    folder = build_checkpoint("qwen3", root / "qwen3-0.6b-shaped", **real_shape("qwen3-0.6b"))
    return write_catalog(root / "gpu.toml", {"shaped": {"source": folder, "tasks": ["chat", "thinking"]}})


@pytest.fixture
def cuda_engine(shaped_catalog: Path, request: pytest.FixtureRequest):
    """A fresh registry per test; `@pytest.mark.parametrize("batching", ...)` picks the decoder."""
    batching = getattr(request, "param", Switch.OFF)
    registry = Registry(load_catalog(shaped_catalog), TransformersLoader(Settings(device="cuda", batching=batching)))
    yield Engine(registry)
    registry.close()
    torch.cuda.empty_cache()


@pytest.mark.parametrize("precision", [Precision.BF16, Precision.INT8, Precision.NF4])
def test_each_precision_on_cuda_matches_its_estimate(cuda_engine: Engine, precision: Precision) -> None:
    events = list(cuda_engine.stream(Request("shaped", HI, Sampling(temperature=0, max_new_tokens=32),
                                             precision=precision)))
    metrics = events[-1]
    assert isinstance(metrics, Metrics) and metrics.tokens == 32 and metrics.precision is precision
    state = next(s for s in cuda_engine.registry.snapshot() if s.precision is precision)
    estimated = weight_bytes(cuda_engine.registry.catalog.get("shaped"), precision)
    assert abs(estimated / state.footprint - 1) < 0.15
    assert 0 < metrics.peak_memory < torch.cuda.get_device_properties(0).total_memory


@pytest.mark.parametrize("cuda_engine", [Switch.OFF, Switch.ON], indirect=True, ids=["serial", "batched"])
def test_stop_on_cuda_halts_within_a_few_tokens(cuda_engine: Engine) -> None:
    cancel = Cancel()
    answers = 0
    for event in cuda_engine.stream(Request("shaped", HI, Sampling(max_new_tokens=4000)), cancel):
        if isinstance(event, Answer):
            answers += 1
            if answers == 3:
                cancel.set()
        if isinstance(event, Metrics):
            assert event.stopped and event.tokens < 40


@pytest.mark.parametrize("cuda_engine", [Switch.ON], indirect=True, ids=["batched"])
def test_batched_on_cuda_serves_concurrent_requests(cuda_engine: Engine) -> None:
    """Eight requests decode in one batch; greedy bf16 text may differ from alone (rounding), lengths may not."""
    results: dict[int, Metrics] = {}

    def run(i: int) -> None:
        request = Request("shaped", [{"role": "user", "content": f"Question {i}"}],
                          Sampling(temperature=0 if i % 2 else 0.7, seed=i, max_new_tokens=48))
        results[i] = [e for e in cuda_engine.stream(request) if isinstance(e, Metrics)][0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == list(range(8))
    assert all(m.backend == "batched" and m.tokens == 48 for m in results.values())


def test_gpu_memory_is_returned_after_unload(cuda_engine: Engine) -> None:
    before = torch.cuda.memory_allocated()
    cuda_engine.registry.load("shaped", Precision.BF16)
    assert torch.cuda.memory_allocated() > before
    cuda_engine.registry.unload("shaped")
    assert torch.cuda.memory_allocated() <= before + 16 * 1024**2


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_a_vision_model_on_cuda_answers_about_an_image_and_a_video(tmp_path: Path, arch: str) -> None:
    """Pixel values and video frames reach the GPU with the prompt (the serial path vision models take)."""
    from tests.media import write_image, write_video

    folder = build_checkpoint(arch, tmp_path / arch)
    catalog = write_catalog(tmp_path / "vl.toml", {"vl": {"source": folder, "tasks": ["vision"]}})
    registry = Registry(load_catalog(catalog), TransformersLoader(Settings(device="cuda", batching=Switch.ON)))
    image, video = write_image(tmp_path / "red.png", (640, 480), "red"), write_video(tmp_path / "clip.mp4")
    for part in ({"type": "image", "image": str(image)}, {"type": "video", "video": str(video), "max_frames": 8}):
        messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is this?"}]}]
        metrics = list(Engine(registry).stream(Request("vl", messages, Sampling(temperature=0, max_new_tokens=8))))[-1]
        assert isinstance(metrics, Metrics) and metrics.tokens == 8 and metrics.backend == "serial"
        assert metrics.prompt_tokens > 100 and metrics.peak_memory > 0
    registry.close()
    torch.cuda.empty_cache()
