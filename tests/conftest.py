"""Shared fixtures: tiny random-weight checkpoints, a catalogue for them, and the running app.

Everything is built locally at session start; no test downloads anything.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from playground.tiny import build_checkpoint

ROOT = Path(__file__).resolve().parent.parent

# The tiny models as catalogue entries: (key, arch, tasks, thinking sampling or None).
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(catalog: Path, log_path: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Start `app.py` as a user would and wait until it answers; returns (process, url)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--catalog", str(catalog), "--port", str(port), "--device", "cpu",
         *extra],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app did not answer within 120 s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def app_url(tiny_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real app, launched with the tiny catalogue, shared by the API and browser tests."""
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    proc, url = start_app(tiny_catalog_path, log_path)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
