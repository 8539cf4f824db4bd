"""ZeroGPU: generation runs in the `@spaces.GPU` function, as far as this machine can show it.

Here (no ZeroGPU) `spaces.GPU` returns the function unchanged, so a recording stand-in for it shows that
the engine's replies go through the decorated function, with a duration from the request. Then the
`spaces` package's own ZeroGPU mode, simulated in a child process (SPACES_ZERO_GPU=true, its device API
on a closed port): `spaces` is imported before torch, the models load at start-up onto its emulated
`cuda` and stay, and a request reaches the GPU call, which asks the device API for a slice. What only a
real Space shows (the slice itself, the quota, the forked worker) is in the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spaces

from devtools.catalogs import write_catalog
from devtools.launch import ROOT, free_port
from devtools.tiny import build_tokenizer
from playground import zerogpu
from playground.engine import Engine
from playground.requests import Answer, Cancel, Finish, Metrics, Request, Sampling
from tests.fakes import scripted_registry


class RecordingGPU:
    """Stands in for `spaces.GPU`: records what it decorated and each call (and its duration) through it."""

    def __init__(self) -> None:
        self.decorated: list = []
        self.calls: list[int] = []
        self.closed = 0

    def __call__(self, task=None, *, duration=None, size=None):
        def decorate(fn):
            self.decorated.append(fn)

            def wrapper(*args):
                self.calls.append(duration(*args))
                try:
                    yield from fn(*args)
                except GeneratorExit:
                    self.closed += 1
                    raise

            return wrapper

        return decorate if task is None else decorate(task)


@pytest.fixture()
def gpu(monkeypatch: pytest.MonkeyPatch) -> RecordingGPU:
    recorder = RecordingGPU()
    monkeypatch.setattr(spaces, "GPU", recorder)
    return recorder


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer("qwen3")


def test_replies_are_made_in_the_gpu_function_with_a_duration_from_the_request(gpu, tokenizer) -> None:
    registry, loader = scripted_registry(tokenizer)
    engine = Engine(registry, generate=zerogpu.serve(registry))
    assert gpu.decorated == [zerogpu._generate]
    loader.decoder("scripted-qwen3").enqueue("Hello from the slice.")
    events = list(engine.stream(Request("scripted-qwen3", [{"role": "user", "content": "Hi"}],
                                        Sampling(max_new_tokens=5000))))
    assert "".join(e.text for e in events if isinstance(e, Answer)) == "Hello from the slice."
    assert isinstance(events[-1], Metrics) and events[-1].finish is Finish.STOP
    params = registry.catalog.get("scripted-qwen3").params_billion or 8.0
    expected = int(min(zerogpu.BASE_S + params * zerogpu.MAX_NEW_TOKENS * zerogpu.SECONDS_PER_BILLION_TOKEN,
                       zerogpu.MAX_DURATION_S))
    assert gpu.calls == [expected]  # 5000 new tokens asked: the duration is for the capped 2048
    assert loader.decoder("scripted-qwen3").prompts  # the backend under the GPU function made the reply


def test_stop_closes_the_gpu_call(gpu, tokenizer) -> None:
    registry, loader = scripted_registry(tokenizer)
    decoder = loader.decoder("scripted-qwen3")
    decoder.enqueue(" ".join(["word"] * 500))
    engine = Engine(registry, generate=zerogpu.serve(registry))
    cancel = Cancel()
    answers = 0
    for event in engine.stream(Request("scripted-qwen3", [{"role": "user", "content": "Go"}]), cancel):
        answers += isinstance(event, Answer)
        if answers == 3:
            cancel.set()  # the Stop button (on a Space, Gradio's cancel closes the stream the same way)
    assert answers == 3 and gpu.closed == 1


SIMULATED = textwrap.dedent("""
    import importlib.abc, json, sys
    started = []

    class Order(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in ("spaces", "torch") and name not in started:
                started.append(name)
            return None

    sys.meta_path.insert(0, Order())
    import app
    from playground.services import create_services
    from playground.settings import Settings
    from playground.requests import Request, Sampling

    services = create_services(Settings.from_sources(["--catalog", sys.argv[1]]))
    settings = services.settings
    loaded = [(m.key, m.status, str(m.precision)) for m in services.registry.snapshot()]
    try:
        hello = [{"role": "user", "content": "Hi"}]
        list(services.engine.stream(Request("tiny-qwen3", hello, Sampling(max_new_tokens=4))))
        reached = "no error"
    except Exception as exc:
        reached = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"order": started, "device": settings.device, "batching": settings.batching,
                      "eviction": settings.eviction, "keep_alive": settings.keep_alive, "loaded": loaded,
                      "memory_total": services.registry.memory().total, "reached": reached}))
""")


def test_in_simulated_zerogpu_models_preload_onto_cuda_and_a_request_asks_for_a_slice(
        tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "zero.toml", {"tiny-qwen3": {"source": tiny_checkpoints["tiny-qwen3"],
                                                                   "tasks": ["chat", "thinking"]}})
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": f"http://127.0.0.1:{free_port()}/",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SIMULATED, str(catalog)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["order"] == ["spaces", "torch"]  # `spaces` first, so it can patch torch before CUDA is touched
    assert (seen["device"], seen["batching"], seen["eviction"], seen["keep_alive"]) == ("cuda", "off", "off", 0.0)
    assert seen["loaded"] == [["tiny-qwen3", "ready", "bf16"]]  # loaded at start-up, before any request
    assert seen["memory_total"] == spaces.config.Config.zerogpu_cuda_total_memory  # the slice is the budget
    assert "Connect" in seen["reached"]  # the GPU call asked the (closed) device API for a slice
