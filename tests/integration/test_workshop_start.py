"""Workshop mode on the tiny models: the lesson's models load at start, before anyone asks, and stay when the
keep-alive's reaping runs; the running app says where to join and the teacher's token in its console; an
unknown model key stops start-up with the sentence that lists the valid keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.launch import ROOT, AppProcess
from playground.errors import UnknownModelError
from playground.registry import Registry
from playground.services import create_services
from playground.settings import Settings

LISTED = ("tiny-qwen2", "tiny-qwen3")
LOAD_TIMEOUT_S = 180


def wait_until_ready(registry: Registry, keys: tuple[str, ...]) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        states = [registry.state(key) for key in keys]
        if all(state is not None and state.status == "ready" for state in states):
            return
        time.sleep(0.1)
    raise AssertionError(f"not loaded after {LOAD_TIMEOUT_S} s: {registry.snapshot()}")


def test_the_listed_models_load_at_start_and_the_reaper_leaves_them(tiny_catalog_path: Path) -> None:
    argv = ["--catalog", str(tiny_catalog_path), "--device", "cpu", "--host", "127.0.0.1",
            "--workshop", ",".join(LISTED)]
    services = create_services(Settings.from_sources(argv, {}))
    try:
        assert services.workshop is not None and services.workshop.models == LISTED
        assert services.workshop.token_made and re.fullmatch(r"\w{4}-\w{4}-\w{4}", services.settings.admin_token)
        assert not services.access.open  # even on localhost: the teacher manages models
        wait_until_ready(services.registry, LISTED)  # no request was made
        assert services.engine.monitor.figures()["requests"] == 0
        time.sleep(0.2)
        assert services.registry.reap_idle() == []  # what the keep-alive's reaper does, had it been started
        assert sorted(state.key for state in services.registry.snapshot() if state.status == "ready") == \
            sorted(LISTED)
    finally:
        services.registry.close()

    # Outside a workshop the same reaping unloads an idle model once its keep-alive has passed.
    plain = create_services(Settings.from_sources(["--catalog", str(tiny_catalog_path), "--device", "cpu",
                                                   "--keep-alive", "0.05"], {}))
    try:
        assert plain.workshop is None and plain.access.open
        plain.registry.load("tiny-qwen3")
        time.sleep(0.2)
        assert plain.registry.reap_idle() == ["tiny-qwen3"] and plain.registry.snapshot() == []
    finally:
        plain.registry.close()


def test_the_running_app_preloads_before_any_request_and_tells_the_teacher(tiny_catalog_path: Path,
                                                                           tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    with AppProcess(tiny_catalog_path, log, "--device", "cpu", "--host", "127.0.0.1",
                    "--workshop", ",".join(LISTED), env={"LANG": "C.UTF-8", "LC_ALL": ""}) as app:
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while True:
            health = httpx.get(app.url + "health", timeout=30).json()
            ready = {m["model"] for m in health["models"] if m["state"] == "ready"}
            if ready == set(LISTED) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert ready == set(LISTED), health["models"]
        assert health["requests"] == 0  # loaded at start, not by a request
        config = httpx.get(app.url + "config", timeout=30).json()
        banner = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "workshop-banner"]
        assert len(banner) == 1
    console = log.read_text()
    assert "Workshop: loading tiny-qwen2, tiny-qwen3 in the background" in console
    assert "Listening on 127.0.0.1 only: learners cannot join. Restart with --host 0.0.0.0." in console
    assert re.search(r"sign in on the Models tab with the admin token [a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\n",
                     console)


def test_an_unknown_workshop_model_stops_start_up_naming_the_valid_ones(tiny_catalog_path: Path) -> None:
    with pytest.raises(UnknownModelError) as caught:
        create_services(Settings.from_sources(["--catalog", str(tiny_catalog_path), "--workshop",
                                               "tiny-qwen3,qwen9-huge"], {}))
    assert caught.value.key == "qwen9-huge" and "tiny-qwen3" in caught.value.valid
    # As a teacher meets it: one sentence and a failed exit, no traceback.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    finished = subprocess.run([sys.executable, str(ROOT / "app.py"), "--catalog", str(tiny_catalog_path),
                               "--workshop", "tiny-qwen3,qwen9-huge"], env=env, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == (
        "error: Unknown model 'qwen9-huge'. Valid models: tiny-qwen2, tiny-qwen2.5-vl, tiny-qwen3, tiny-qwen3-moe, "
        "tiny-qwen3-vl.")
