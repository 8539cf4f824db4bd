"""Remote models behind a real OpenAI-compatible server: `transformers serve` on loopback, serving the tiny
Qwen3 checkpoints, chatted with through the app's engine and Chat tab.

Random weights write noise, so what depends on the words (each failure, <think> tags in the content) is
tested against the scripted server in test_remote.py; here the real server shows that requests, streaming,
thinking from its `reasoning_content` (a thinking-only checkpoint: all it writes is thinking), the thinking
switch, the sampling fields it refuses, the seed, Stop and greedy decoding work against it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.launch import free_port
from devtools.tiny import build_checkpoint
from playground.backends.remote import RemoteModels
from playground.catalog import Sampling, parse_catalog
from playground.engine import Engine
from playground.registry import Registry
from playground.requests import Answer, Cancel, Finish, Metrics, Request
from tabs.chat import chat
from tabs.reply import Stops
from tests.fakes import FakeLoader

START_S = 180  # loading transformers and the checkpoint on a busy two-core machine


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of `transformers serve`, which loads each checkpoint folder a request names."""
    home = tmp_path_factory.mktemp("hf-home")
    (home / "hub").mkdir()  # its /v1/models lists this cache (and fails without it)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HOME": str(home)}
    log = (home / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "transformers.cli.transformers", "serve", "--host",
                               "127.0.0.1", "--port", str(port), "--device", "cpu"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"transformers serve did not start:\n{(home / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.25)
    yield f"{base}/v1"
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def thinker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A thinking-only tiny Qwen3: its template opens <think>, so all it writes is thinking."""
    return build_checkpoint("qwen3", tmp_path_factory.mktemp("remote-thinker") / "tiny-thinker", opens_thinking=True)


@pytest.fixture()
def engine(served: str, tiny_checkpoints: dict[str, Path], thinker: Path) -> Engine:
    common = {"backend": "openai", "base_url": served, "family": "qwen3", "context_length": 4096, "timeout_s": 60}
    entries = {"tiny-remote": {**common, "model": str(tiny_checkpoints["tiny-qwen3"]), "tasks": ["chat", "thinking"]},
               "tiny-remote-thinker": {**common, "model": str(thinker), "tasks": ["chat", "thinking"],
                                       "thinking_mode": "always"}}
    catalog = parse_catalog({"models": entries})
    return Engine(Registry(catalog, FakeLoader(1 << 30), remotes=RemoteModels(catalog, environ={})))


def greedy(max_new_tokens: int = 12) -> Sampling:
    return Sampling(temperature=0, top_k=0, max_new_tokens=max_new_tokens)


def answer(engine: Engine, **request) -> tuple[str, Metrics]:
    events = list(engine.stream(Request(model="tiny-remote", messages=[{"role": "user", "content": "Hello"}],
                                        **request)))
    return "".join(e.text for e in events if isinstance(e, Answer)), events[-1]


def test_a_greedy_reply_streams_and_repeats_with_the_servers_usage(engine: Engine) -> None:
    first, metrics = answer(engine, sampling=greedy(), thinking=False)
    again, _ = answer(engine, sampling=greedy(), thinking=False)
    assert first and first == again  # random weights write noise, the same noise each time when greedy
    assert (metrics.backend, metrics.finish, metrics.tokens) == ("remote", Finish.LENGTH, 12)
    assert metrics.prompt_tokens > 0  # from the server's usage


def test_the_thinking_switch_reaches_the_servers_chat_template(engine: Engine) -> None:
    _, off = answer(engine, sampling=greedy(2), thinking=False)
    _, on = answer(engine, sampling=greedy(2), thinking=True)
    # Qwen3's template writes an empty think block into the prompt when thinking is off.
    assert off.prompt_tokens > on.prompt_tokens and (off.thinking, on.thinking) == (False, True)


def test_thinking_comes_from_the_servers_reasoning_field(engine: Engine) -> None:
    final = list(chat(engine, Stops(), "Hello", [], "tiny-remote-thinker", temperature=0, top_k=0,
                      max_new_tokens=12))[-1][0]
    thinking = next(m for m in final if (m.get("metadata") or {}).get("title") == "Thinking")
    assert thinking["content"].strip()  # what the server sent as reasoning_content is the thinking block
    assert "tiny-remote-thinker · remote · thinking on" in final[-1]["content"]


def test_the_chat_tab_chats_with_it_leaving_out_the_fields_it_refuses(engine: Engine, served: str) -> None:
    base_url = served
    final = list(chat(engine, Stops(), "Hello", [], "tiny-remote", thinking=False, temperature=0.7, top_k=20,
                      max_new_tokens=8, seed=3))[-1][0]
    assert final[0]["content"] == (f"ℹ️ The model server at {base_url} does not take top_k: this reply and the "
                                   "next are sampled without them.")
    assert final[-1]["metadata"]["id"] == "metrics" and "tiny-remote · remote · thinking off" in final[-1]["content"]
    seeded = [list(chat(engine, Stops(), "Hello", [], "tiny-remote", thinking=False, temperature=0.7, top_k=20,
                        max_new_tokens=8, seed=3))[-1][0] for _ in range(2)]
    assert [m["content"] for m in seeded[0]][:-1] == [m["content"] for m in seeded[1]][:-1]  # the seed holds


def test_stop_ends_the_reply_and_the_server_takes_the_next_one(engine: Engine) -> None:
    cancel = Cancel()
    events = engine.stream(Request(model="tiny-remote", messages=[{"role": "user", "content": "Write a lot"}],
                                   sampling=greedy(3000), thinking=False), cancel)
    for answers, _ in enumerate(e for e in events if isinstance(e, Answer)):
        if answers == 2:
            cancel.set()
            break
    rest = list(events)
    assert isinstance(rest[-1], Metrics) and rest[-1].finish is Finish.CANCELLED
    text, metrics = answer(engine, sampling=greedy(4), thinking=False)
    assert text and metrics.finish is Finish.LENGTH
