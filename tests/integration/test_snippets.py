"""Copy as code, end to end: the app replies greedily on a tiny checkpoint, the Copy-as-code button gives the
script for that request, and the script, run as a learner runs it (`python snippet.py`, offline), prints the
same thinking and answer the app showed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from playground.catalog import Precision, Sampling, load_catalog
from playground.engine import Engine
from playground.loading import TransformersLoader
from playground.registry import Registry
from playground.requests import Request
from playground.settings import Settings
from tabs.copy_code import show_code
from tabs.reply import ReplyView, Stops, stream_reply
from tests.media import write_video

SLOT = "chat"
TOKENS = 24
CONVERSATION = [
    {"role": "system", "content": "You are a patient teacher."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "Write a short poem about it."},
]
HELLO = [{"role": "user", "content": "Hello! How can I help you today?"}]


def cpu_engine(catalog_path: Path) -> Engine:
    return Engine(Registry(load_catalog(catalog_path), TransformersLoader(Settings(device="cpu"))))


@pytest.fixture(scope="module")
def engine(tiny_catalog_path: Path):
    engine = cpu_engine(tiny_catalog_path)
    yield engine
    engine.registry.close()


@pytest.fixture(scope="module")
def thinking_engine(thinking_catalog_path: Path):
    engine = cpu_engine(thinking_catalog_path)
    yield engine
    engine.registry.close()


def session(name: str) -> SimpleNamespace:
    """What a handler reads of gr.Request: the browser session (and no Accept-Language: English)."""
    return SimpleNamespace(session_hash=name, headers={})


def app_reply(engine: Engine, request: Request, name: str) -> ReplyView:
    """The reply as the Chat tab streams it for browser session `name`."""
    *_, view = stream_reply(engine, request, Stops(), (name, SLOT))
    assert view.error is None and view.metrics is not None
    return view


def run_script(code: str, folder: Path) -> tuple[str | None, str]:
    """Run the script as a learner would, offline; what it printed: (thinking or None, answer)."""
    path = folder / "snippet.py"
    path.write_text(code, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONPATH", None)  # the script needs nothing of this repository
    done = subprocess.run([sys.executable, str(path)], cwd=folder, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    out = done.stdout.decode("utf-8")  # bytes: a "\r" the model wrote stays a "\r"
    assert out.endswith("\n")
    out = out[:-1]
    if not out.startswith("=== thinking ===\n"):
        return None, out
    thinking, answer = out.removeprefix("=== thinking ===\n").split("\n=== answer ===\n")
    return thinking, answer


def check(engine: Engine, request: Request, name: str, folder: Path) -> tuple[ReplyView, str]:
    view = app_reply(engine, request, name)
    code = show_code(engine, SLOT, request=session(name))
    thinking, answer = run_script(code, folder)
    assert answer == view.answer
    assert thinking == (view.thinking if thinking is not None else None)
    return view, code


def greedy(tokens: int = TOKENS) -> Sampling:
    return Sampling(temperature=0, max_new_tokens=tokens)


def test_a_chat_with_a_system_prompt_and_turns(engine: Engine, tmp_path: Path) -> None:
    request = Request("tiny-qwen2", CONVERSATION, greedy(), thinking=True)
    view, code = check(engine, request, "chat", tmp_path)
    assert len(view.answer) > 10 and "enable_thinking" not in code  # Qwen2 has no thinking switch
    assert "dtype=torch.bfloat16,  # the app ran it at bf16" in code


@pytest.mark.parametrize("thinking", [False, True], ids=["thinking_off", "thinking_on"])
def test_qwen3_with_thinking_off_and_on(engine: Engine, tmp_path: Path, thinking: bool) -> None:
    request = Request("tiny-qwen3", HELLO, greedy(), thinking=thinking)
    view, code = check(engine, request, f"qwen3-{thinking}", tmp_path)
    assert f"enable_thinking={thinking}" in code and view.answer
    # A random model never writes <think>: with thinking on, everything it writes is the answer, printed after
    # an empty thinking section (the script splits as the app does).
    assert ("=== thinking ===" in code) is thinking


def test_a_thinking_budget_cuts_the_thinking_as_the_app_does(thinking_engine: Engine, tmp_path: Path) -> None:
    """Qwen's recipe in the script (think, append the early-stop sentence, go on) equals the app's token by token
    budget: the same thinking, cut at the same place, and the same answer after it (float32)."""
    request = Request("thinking-only", HELLO, greedy(80), thinking_budget=8)
    view, code = check(thinking_engine, request, "budget", tmp_path)
    assert view.metrics.thinking_cut and view.thinking and view.answer
    assert "budget = 8" in code and "Considering the limited time" in code


@pytest.mark.parametrize("precision", [Precision.INT8, Precision.NF4])
def test_a_quantized_model(engine: Engine, tmp_path: Path, precision: Precision) -> None:
    """The registry loaded it with bitsandbytes; the script loads it with the same config (on the CPU here)."""
    request = Request("tiny-qwen3", HELLO, greedy(), thinking=False, precision=precision)
    view, code = check(engine, request, f"quantized-{precision}", tmp_path)
    assert view.metrics.precision is precision
    assert "BitsAndBytesConfig(" in code and ("load_in_8bit=True" if precision is Precision.INT8 else
                                               'bnb_4bit_quant_type="nf4"') in code


def test_a_vision_request(engine: Engine, tmp_path: Path) -> None:
    """An image through qwen-vl-utils' `process_vision_info` and the processor, as the app prepares it."""
    image = tmp_path / "gradient.png"
    Image.linear_gradient("L").resize((300, 200)).convert("RGB").save(image)
    messages = [{"role": "user", "content": [{"type": "image", "image": str(image), "max_pixels": 64 * 28 * 28},
                                             {"type": "text", "text": "What is in this picture?"}]}]
    view, code = check(engine, Request("tiny-qwen2.5-vl", messages, greedy()), "vision", tmp_path)
    assert "from qwen_vl_utils import process_vision_info" in code and str(image) in code
    assert view.metrics.prompt_tokens > 40  # the image's tokens were in the prompt


def test_a_video_request(engine: Engine, tmp_path: Path) -> None:
    """A video's frames, read with PyAV as the app reads them, through qwen-vl-utils and the processor."""
    video = write_video(tmp_path / "clip.mp4", seconds=2.0, fps=10)
    messages = [{"role": "user", "content": [
        {"type": "video", "video": str(video), "fps": 2.0, "max_frames": 8, "max_pixels": 64 * 28 * 28},
        {"type": "text", "text": "What happens in this video?"}]}]
    view, code = check(engine, Request("tiny-qwen2.5-vl", messages, greedy()), "video", tmp_path)
    assert f"read_frames({str(video)!r}, fps=2.0, max_frames=8)" in code
    assert view.metrics.prompt_tokens > 40  # the frames' tokens were in the prompt
