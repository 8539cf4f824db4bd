"""Starts `app.py` in a child process and waits until it answers, as a user's browser would; and serves
fake servers (an OpenAI-compatible one, a Hub) on loopback in a thread (`LoopbackServer`).

Tests, benchmarks and scripts use this to exercise the real app end to end; the app itself
never calls it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppProcess:
    """A running app; `url` once started. Use as a context manager to stop it afterwards."""

    def __init__(self, catalog: Path | None, log_path: Path, *extra: str, timeout_s: float = 120,
                 entry: Path = ROOT / "app.py", env: dict[str, str] | None = None, cwd: Path = ROOT,
                 flags: bool = True, command: list[str] | None = None):
        """`entry`: the script to run (`app.py`, or one that builds the same app over other services);
        `env`: variables to add to its environment; `cwd`: the folder it runs in; `flags` False: the catalogue
        and port go as variables (PLAYGROUND_CATALOG, GRADIO_SERVER_PORT), as a Space or a container gives them;
        `command`: what starts it, if not `python entry` (e.g. `gradio app.py`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        given = {"PLAYGROUND_CATALOG": str(catalog), "GRADIO_SERVER_PORT": str(self.port)} if not flags else {}
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": str(ROOT), **given, **(env or {})}
        catalog_flag = ["--catalog", str(catalog)] if catalog is not None and flags else []
        port_flag = ["--port", str(self.port)] if flags else []
        command = [*(command or [sys.executable, str(entry)]), *catalog_flag, *port_flag, *extra]
        self.started_at = time.perf_counter()
        with log_path.open("w") as log:
            # Its own process group, so stopping it also stops what it started (`gradio app.py` runs the app
            # in a child process).
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.ready_s = self._wait(timeout_s)

    def _wait(self, timeout_s: float) -> float:
        """Seconds from process start until the page is served."""
        deadline = self.started_at + timeout_s
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return time.perf_counter() - self.started_at
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"app did not answer within {timeout_s:.0f} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop the app and every process it started."""
        self._signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self._signal(signal.SIGKILL)  # whatever is left of the group (a child the app started)
        self.process.wait(timeout=20)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, number)

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoopbackServer:
    """An ASGI app served by uvicorn on a free loopback port, in a thread (fake servers for tests and demos)."""

    def __init__(self, app: Any, port: int = 0):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name=f"loopback-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
