"""The code sandbox: model code runs, keeps its variables, and cannot hurt the server or reach out.

Each bad case checks both the message the model sees and the harm that did not happen (no file,
no connection, no process). Tests that kill a worker get a sandbox of their own; the rest share one.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from playground.i18n import Said
from playground.tasks import sandbox as sandbox_module
from playground.tasks.sandbox import Limits, Sandbox

LIMITS = Limits(wall_s=2, memory_bytes=512 * 2**20, output_chars=1000)
PROCESSES_REFUSED = "PermissionError: starting or signalling processes is not allowed in the sandbox"


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    with Sandbox(LIMITS) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(LIMITS) as sandbox:
        yield sandbox


def worker_processes(sandbox: Sandbox) -> list[psutil.Process]:
    """This test process's children that serve `sandbox` (the worker's command line names its directory)."""
    return [child for child in psutil.Process().children(recursive=True)
            if str(sandbox.workdir) in " ".join(child.cmdline())]


def test_prints_and_arithmetic(shared: Sandbox) -> None:
    run = shared.run("print(1 + 1)\nprint(2 ** 10, 7 / 2)")
    assert (run.output, run.ok) == ("2\n1024 3.5\n", True)


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("import sympy as sp\nx = sp.symbols('x')\nprint(sp.diff(x**3 + 2*x**2 - 5*x + 3, x))",
                 "3*x**2 + 4*x - 5", id="sympy_derivative"),
    pytest.param("from sympy import *\nx = symbols('x')\nprint(solve(x**2 - 4, x))", "[-2, 2]", id="sympy_star"),
    pytest.param("import numpy as np\nprint(round(np.linalg.det(np.array([[2, 1], [1, 3]]))))", "5", id="numpy"),
])
def test_math_libraries(shared: Sandbox, code: str, expected: str) -> None:
    run = shared.run(code)
    assert (run.output.strip(), run.ok) == (expected, True)


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("print('before')\n1 / 0", "before\nZeroDivisionError: division by zero", id="zero_division"),
    pytest.param("print(undefined_name)", "NameError: name 'undefined_name' is not defined", id="name_error"),
    pytest.param("print('a'", "SyntaxError: '(' was never closed", id="syntax_error"),
    pytest.param("raise ValueError('x' * 5000)", "ValueError: " + "x" * 988 + " ...", id="long_message_cut"),
    pytest.param("input()", "EOFError: EOF when reading a line", id="no_input"),
])
def test_exception_gives_last_traceback_line(shared: Sandbox, code: str, expected: str) -> None:
    run = shared.run(code)
    assert (run.output, run.ok, run.said) == (expected, False, None)  # the code's own error: no words of ours


def test_variables_carry_over(sandbox: Sandbox) -> None:
    sandbox.run("x = 41")
    sandbox.run("x += 1\ndef double(n):\n    return 2 * n")
    assert sandbox.run("print(double(x))").output == "84\n"


def test_infinite_loop_stops_at_the_wall_limit_and_variables_survive(sandbox: Sandbox) -> None:
    sandbox.run("x = 41")  # also starts the worker, so the clock below times only the loop
    started = time.monotonic()
    run = sandbox.run("while True:\n    pass")
    elapsed = time.monotonic() - started

    assert not run.ok
    assert run.output == "TimeoutError: the code ran longer than 2 s"
    assert run.said == Said("sandbox.wall_time", {"seconds": 2})  # the same reason, for people in their language
    assert LIMITS.wall_s <= elapsed < LIMITS.wall_s + 1.5
    assert sandbox.run("print(x + 1)").output == "42\n"  # a fresh worker, the earlier block re-run


def test_cpu_limit_stops_a_busy_loop() -> None:
    with Sandbox(Limits(wall_s=30, cpu_s=1)) as sandbox:
        sandbox.run("pass")
        started = time.monotonic()
        run = sandbox.run("total = 0\nfor i in range(10**10):\n    total += i")
        assert (run.output, run.ok) == ("TimeoutError: the code used more than 1 s of CPU time", False)
        assert time.monotonic() - started < 15  # well before the 30 s wall clock, even on a busy machine


def test_worker_that_exits_is_replaced(sandbox: Sandbox) -> None:
    sandbox.run("y = 'kept'")
    run = sandbox.run("import os\nos._exit(3)")
    assert (run.output, run.ok) == ("SystemExit: the code's process exited with status 3", False)
    assert sandbox.run("print(y)").output == "kept\n"


def test_code_that_garbles_the_protocol_gets_a_message(sandbox: Sandbox) -> None:
    sandbox.run("z = 3")
    run = sandbox.run("import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'garbage\\n')\n"
                      "    except OSError:\n        pass")
    assert not run.ok
    assert run.output == "RuntimeError: the sandbox lost touch with the code's process, and stopped it"
    assert sandbox.run("print(z)").output == "3\n"


def test_network_is_refused(shared: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        run = shared.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert (run.output, run.ok) == ("PermissionError: network access is not allowed in the sandbox", False)


@pytest.mark.parametrize("code", [
    pytest.param("open({target!r}, 'w').write('x')", id="open_write"),
    pytest.param("open({target!r}, 'a').write('x')", id="open_append"),
    pytest.param("import os\nos.open({target!r}, os.O_WRONLY | os.O_CREAT)", id="os_open_create"),
    pytest.param("from pathlib import Path\nPath({target!r}).write_text('x')", id="pathlib"),
    pytest.param("import os\nos.symlink({target!r}, 'link')\nopen('link', 'w').write('x')", id="through_symlink"),
    pytest.param("import os\nos.mkdir({target!r})", id="mkdir"),
    pytest.param("import os\nfolder = os.open({parent!r}, os.O_RDONLY)\n"
                 "os.open('outside', os.O_WRONLY | os.O_CREAT, dir_fd=folder)", id="os_open_dir_fd"),
])
def test_writing_outside_the_sandbox_is_refused(shared: Sandbox, tmp_path: Path, code: str) -> None:
    target = tmp_path / "outside"
    run = shared.run(code.format(target=str(target), parent=str(tmp_path)))
    assert not run.ok
    assert run.output.startswith("PermissionError: ") and "in the sandbox" in run.output or \
        "outside the sandbox's directory is not allowed" in run.output
    assert not target.exists()


@pytest.mark.parametrize("code", [
    pytest.param("import os\nos.remove({target!r})", id="remove"),
    pytest.param("import os\nos.rename({target!r}, 'stolen')", id="rename_in"),
    pytest.param("import os\nos.chmod({target!r}, 0o777)", id="chmod"),
    pytest.param("import shutil\nshutil.rmtree({parent!r})", id="rmtree"),
])
def test_outside_files_stay_untouched(shared: Sandbox, tmp_path: Path, code: str) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    target.chmod(0o600)
    run = shared.run(code.format(target=str(target), parent=str(tmp_path)))
    assert not run.ok
    assert "PermissionError: changing files outside the sandbox's directory is not allowed" in run.output
    assert target.read_text() == "precious"
    assert target.stat().st_mode & 0o777 == 0o600


def test_writing_inside_the_sandbox_works(shared: Sandbox) -> None:
    run = shared.run("open('result.txt', 'w').write('42')\nprint(open('result.txt').read())")
    assert (run.output, run.ok) == ("42\n", True)
    assert (shared.workdir / "result.txt").read_text() == "42"


@pytest.mark.parametrize("code", [
    pytest.param("x = bytearray(4 * 1024**3)", id="bytearray"),
    pytest.param("a = [1] * 10**10", id="list"),
    pytest.param("import numpy as np\na = np.ones(10**10)", id="numpy"),
])
def test_memory_bomb_is_stopped(sandbox: Sandbox, code: str) -> None:
    sandbox.run("kept = 1")
    run = sandbox.run(code)
    assert (run.output, run.ok) == ("MemoryError: the code tried to use more than 512 MiB of memory", False)
    assert run.said == Said("sandbox.memory", {"size": "512 MiB"})
    assert sandbox.run("print(kept + 1)").output == "2\n"


@pytest.mark.parametrize(("code", "printed"), [
    pytest.param("print('x' * 10_000_000)", 10_000_001, id="one_long_line"),
    pytest.param("for i in range(300_000):\n    print(i)", sum(len(str(i)) + 1 for i in range(300_000)),
                 id="many_lines"),
])
def test_huge_output_is_cut_with_a_note(shared: Sandbox, code: str, printed: int) -> None:
    started = time.monotonic()
    run = shared.run(code)
    assert time.monotonic() - started < 5
    note = f"\n... ({printed - LIMITS.output_chars} more characters cut)"
    assert run.ok
    assert run.output.endswith(note)
    assert len(run.output) == LIMITS.output_chars + len(note)


@pytest.mark.parametrize("code", [
    # A bounded fork loop: should the guard ever fail, an unbounded one would take the test machine down.
    pytest.param("import os\nfor _ in range(5):\n    if os.fork() == 0:\n        open('spawned', 'w').close()",
                 id="fork_loop"),
    pytest.param("import subprocess\nsubprocess.run(['touch', 'spawned'])", id="subprocess"),
    pytest.param("import os\nos.system('touch spawned')", id="os_system"),
    pytest.param("import os\nos.execv('/bin/touch', ['touch', 'spawned'])", id="exec"),
    pytest.param("import pty\npty.spawn(['touch', 'spawned'])", id="pty"),
])
def test_starting_processes_is_refused(shared: Sandbox, code: str) -> None:
    run = shared.run(code)
    assert (run.output, run.ok) == (PROCESSES_REFUSED, False)
    assert not (shared.workdir / "spawned").exists()
    assert len(worker_processes(shared)) == 1


@pytest.mark.parametrize(("code", "message"), [
    pytest.param("import ctypes\nctypes.CDLL('libc.so.6').system(b'touch spawned')",
                 "PermissionError: loading native code with ctypes is not allowed in the sandbox", id="ctypes"),
    pytest.param("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
                 "PermissionError: changing resource limits is not allowed in the sandbox", id="raise_limits"),
    pytest.param("import os\nos.kill(os.getppid(), 0)", PROCESSES_REFUSED, id="kill_server"),
])
def test_escapes_are_refused(shared: Sandbox, code: str, message: str) -> None:
    run = shared.run(code)
    assert (run.output, run.ok) == (message, False)
    assert not (shared.workdir / "spawned").exists()


def test_close_kills_the_worker_and_removes_its_directory() -> None:
    sandbox = Sandbox(LIMITS)
    sandbox.run("x = 1")
    [worker] = worker_processes(sandbox)
    sandbox.close()
    assert not psutil.pid_exists(worker.pid)
    assert not sandbox.workdir.exists()
    with pytest.raises(ValueError, match="closed"):
        sandbox.run("print(x)")


def test_server_keeps_serving_after_the_bad_cases(shared: Sandbox) -> None:
    with Sandbox(LIMITS) as fresh:
        assert fresh.run("print(1+1)").output == "2\n"
    assert shared.run("print(1+1)").output == "2\n"


def test_on_windows_nothing_runs_and_the_output_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "resource", None)  # as on Windows, which has no POSIX limits
    with Sandbox(Limits()) as box:
        run = box.run("print(1)")
    assert not run.ok and run.said == Said("sandbox.not_here")
    assert run.output == str(run.said) and "runs only on Linux or macOS" in run.output and "Use WSL" in run.output
