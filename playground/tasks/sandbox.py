"""Runs the Python blocks a model writes while it reasons (tool-integrated math), never in the server's process.

A `Sandbox` serves one solution: its blocks share variables, as in a notebook. It owns one worker process,
started on the first `run`, which speaks JSON lines with it over a pair of pipes; the code's own prints are
captured inside the worker and never touch those pipes. When the worker dies (out of time, out of memory,
crashed), the next `run` starts a fresh one and quietly re-runs the earlier blocks that succeeded, so the
variables come back, as Qwen2.5-Math's tool-integrated evaluation does.

What is enforced, and by what:

- time: the wall clock by this process (it kills the worker's whole process group); CPU seconds by the
  worker's RLIMIT_CPU, re-armed before every block.
- memory: RLIMIT_AS. A MemoryError inside Python is reported and the worker lives on.
- network: a new, empty network namespace where the kernel allows one, and always an audit hook that refuses
  every socket event.
- processes: the audit hook refuses fork, exec, spawn, system, Popen, ctypes and sending signals;
  RLIMIT_NPROC is 0 (the kernel does not enforce it for root).
- files: reading anywhere; writing, deleting, renaming and changing files only inside the sandbox's own
  temporary directory (its working directory and HOME), at most `FILE_BYTES` per file.

Audit hooks are no security boundary (PEP 578 says so): they stop a model's mistakes and casual attempts, not
a determined attacker who digs the hook's state out through introspection. Some calls raise no audit event at all
(`os.mkfifo` and `os.mknod` can still leave an empty node outside). The separate process, the rlimits and the
network namespace are what the kernel enforces. Known casualties: `asyncio` (its loop needs a socket pair) and
`threading` where the server does not run as root (RLIMIT_NPROC counts threads).

It leaves to others: finding code blocks in the model's text, and wrapping `Run.output` in an output block.

On Windows, which has none of these limits, nothing runs: every run says so (`sandbox.not_here`).

`Run.output` is what the model reads, in English and in Python's own form ("TimeoutError: the code ran longer
than 10 s"); where the sandbox itself stopped the code, `Run.said` is the same reason as words for people (a
key of `locales/en/sandbox.toml`). What the code printed and its own errors stay as they are, and so does the
note that its output was cut: the model reads those.

The worker half of this file runs as a script (`python -I sandbox.py CONFIG`), so the file imports only the
standard library at its top (the words for people are imported where they are made, in the server's process).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from playground.i18n import Said

try:
    import resource
except ImportError:  # Windows: no POSIX limits, and no sandbox (see `Sandbox.run`)
    resource = None  # type: ignore[assignment]

FILE_BYTES = 10 * 2**20  # the largest file the code may write (RLIMIT_FSIZE)
STARTUP_S = 60.0  # a cold start imports sympy and numpy; this is only for a machine that is badly stuck
PRELOADED = ("numpy", "sympy")  # imported before the audit hook, so the code's own imports are instant
ERROR_CHARS = 1000  # an exception's message can be as long as the code likes; the model needs its start

# The worker exits with this when it cannot even send its reply for lack of memory.
_OUT_OF_MEMORY_STATUS = 86


@dataclass(frozen=True)
class Limits:
    """What one block may use."""

    wall_s: float = 10.0  # per block, wall clock
    cpu_s: int = 10  # per block, CPU seconds (RLIMIT_CPU, re-armed before each block)
    memory_bytes: int = 1 << 30  # the worker's address space (RLIMIT_AS), imports included
    output_chars: int = 4000  # output kept; the rest is cut, with a note saying how much

    def __post_init__(self) -> None:
        if self.wall_s <= 0 or self.cpu_s <= 0 or self.memory_bytes <= 0 or self.output_chars <= 0:
            raise ValueError(f"sandbox limits must be positive: {self}")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Run:
    """One block's result, as the model should see it.

    `output` is the block's stdout and stderr; after a failure, a last line in the form of Python's own
    (`NameError: name 'x' is not defined`, `TimeoutError: the code ran longer than 10 s`).
    `seconds` is how long the block ran: starting a worker and restoring variables are not counted.
    `said` is why the sandbox stopped it (a limit, or no sandbox on this system), for people; None otherwise.
    """

    output: str
    ok: bool
    seconds: float
    said: Said | None = None


class SandboxError(RuntimeError):
    """The sandbox itself cannot run code (its worker does not start): a fault of the machine, not the code.

    In English: it is for whoever runs the app (the log); a learner sees it as an unexpected error's reference."""


class Sandbox:
    """One per request (one solution): variables carry over from one call to the next.

    Not thread-safe: one solution runs its blocks one after another. `run` never raises for anything
    the code does; it raises `SandboxError` when no worker can be started, `ValueError` after `close`.
    `workdir` is the code's working directory and HOME, the one place it may write; `close` removes it.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self.workdir = Path(tempfile.mkdtemp(prefix="sandbox-"))
        self._worker: _Worker | None = None
        self._succeeded: list[str] = []  # the blocks to re-run when a worker has to be replaced
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True)

    def run(self, code: str) -> Run:
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, not {type(code).__name__}")
        if not self._remove_workdir.alive:
            raise ValueError("this sandbox is closed")
        if resource is None:
            said = _said("not_here")
            return Run(str(said), ok=False, seconds=0.0, said=said)
        if self._worker is None:
            self._worker = self._start_worker()
        started = time.monotonic()
        try:
            reply = self._worker.run(code)
        except _WorkerLost as lost:
            self._worker = None
            kind, said = self._lost_reason(lost)
            return Run(f"{kind}: {said}", ok=False, seconds=time.monotonic() - started, said=said)
        seconds = time.monotonic() - started
        ok = _succeeded(reply)
        if ok:
            self._succeeded.append(code)
        said = self._memory_reason() if reply["memory"] else None
        return Run(self._output(reply, said), ok=ok, seconds=seconds, said=said)

    def close(self) -> None:
        """Kill the worker and remove the temporary directory; calling it again does nothing."""
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
        self._remove_workdir()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_worker(self) -> _Worker:
        """A fresh worker that has quietly re-run the blocks that succeeded so far, so their variables are back.

        A block that fails this time (it depended on chance, or on a file the last worker wrote) is dropped
        from the history rather than tried again after every later death. If it killed the worker, the
        blocks before it are run again in another one.
        """
        worker = _Worker(self.limits, self.workdir)
        history, self._succeeded = self._succeeded, []
        for i, code in enumerate(history):
            try:
                reply = worker.run(code)
            except _WorkerLost:
                self._succeeded += history[i + 1 :]
                return self._start_worker()
            if _succeeded(reply):
                self._succeeded.append(code)
        return worker

    def _output(self, reply: dict[str, Any], memory: Said | None) -> str:
        text = reply["stdout"]
        if reply["cut"]:
            text += f"\n... ({reply['cut']} more characters cut)"
        if memory is not None:
            return _with_last_line(text, f"MemoryError: {memory}")
        if reply["error"] is not None:
            return _with_last_line(text, reply["error"])
        return text

    def _memory_reason(self) -> Said:
        return _said("memory", size=_size(self.limits.memory_bytes))

    def _lost_reason(self, lost: _WorkerLost) -> tuple[str, Said]:
        """Why the worker is gone: the name of the Python error the model reads, and the words for it."""
        status = lost.returncode
        if lost.timed_out:
            return "TimeoutError", _said("wall_time", seconds=self.limits.wall_s)
        if status is None:
            return "RuntimeError", _said("lost")
        if status == -signal.SIGXCPU:
            return "TimeoutError", _said("cpu_time", seconds=self.limits.cpu_s)
        if status == -signal.SIGKILL:
            return "RuntimeError", _said("killed")
        if status == _OUT_OF_MEMORY_STATUS:
            return "MemoryError", self._memory_reason()
        if status < 0:
            return "RuntimeError", _said("died", signal=signal.Signals(-status).name)
        return "SystemExit", _said("exited", status=status)


def _said(key: str, **params: Any) -> Said:
    """Words of `sandbox.toml`, made in the server's process only (the worker imports nothing of the app)."""
    from playground.i18n import Said

    return Said(f"sandbox.{key}", params)


def _succeeded(reply: dict[str, Any]) -> bool:
    return reply["error"] is None and not reply["memory"]


def _with_last_line(text: str, line: str) -> str:
    return f"{text}\n{line}" if text and not text.endswith("\n") else text + line


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


class _WorkerLost(Exception):
    """The worker is gone (and killed, if it was not): it ran out of wall time, or exited with `returncode`."""

    def __init__(self, timed_out: bool = False, returncode: int | None = None):
        super().__init__(timed_out, returncode)
        self.timed_out = timed_out
        self.returncode = returncode


class _Worker:
    """One worker process and the JSON-lines talk with it; it knows nothing of history or wording."""

    def __init__(self, limits: Limits, workdir: Path):
        if not sys.executable:
            raise SandboxError("the sandbox needs sys.executable to start its worker, and it is empty")
        self._limits = limits
        # The worker's own stderr, read only when it fails to start; it lives as long as this object.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        weakref.finalize(self, self._log.close)
        config = {**asdict(limits), "workdir": str(workdir), "file_bytes": FILE_BYTES}
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-X", "utf8", str(Path(__file__).resolve()), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                cwd=workdir,
                env=_worker_environment(workdir),
                start_new_session=True,  # so one killpg reaches everything the code might have started
                bufsize=0,
            )
        except OSError as exc:
            raise SandboxError(f"the sandbox's worker did not start: {exc}") from exc
        self.kill = weakref.finalize(self, _kill, self._process)
        os.set_blocking(self._process.stdin.fileno(), False)
        self._unread = b""
        try:
            ready = self._receive(time.monotonic() + STARTUP_S)
        except _WorkerLost as lost:
            self._log.seek(0)
            why = self._log.read()[-2000:].decode(errors="replace").strip()
            raise SandboxError(f"the sandbox's worker did not start (exit status {lost.returncode}): {why}") from None
        self._cpu_used = ready["cpu"]

    def run(self, code: str) -> dict[str, Any]:
        """The worker's reply to one block; raises `_WorkerLost` (the worker then killed) if none comes."""
        self._arm_cpu_limit()
        deadline = time.monotonic() + self._limits.wall_s
        self._send(json.dumps({"code": code}).encode() + b"\n", deadline)
        reply = self._receive(deadline)
        if not _well_formed(reply):  # the code wrote to the protocol's descriptor itself
            self._lose(garbled=True)
        self._cpu_used = reply["cpu"]
        return reply

    def _arm_cpu_limit(self) -> None:
        """Allow `cpu_s` more CPU seconds than the worker has used; set from here, the code cannot undo it."""
        if not hasattr(resource, "prlimit"):  # not Linux: the wall clock alone
            return
        with contextlib.suppress(OSError, ValueError):
            _, hard = resource.prlimit(self._process.pid, resource.RLIMIT_CPU)
            soft = math.ceil(self._cpu_used + self._limits.cpu_s)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.prlimit(self._process.pid, resource.RLIMIT_CPU, (soft, hard))

    def _send(self, data: bytes, deadline: float) -> None:
        pipe = self._process.stdin.fileno()
        while data:
            if not select.select([], [pipe], [], max(0.0, deadline - time.monotonic()))[1]:
                self._lose(timed_out=True)
            try:
                data = data[os.write(pipe, data) :]
            except BrokenPipeError:
                self._lose()

    def _receive(self, deadline: float) -> dict[str, Any]:
        pipe = self._process.stdout.fileno()
        while b"\n" not in self._unread:
            if not select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self._lose(timed_out=True)
            chunk = os.read(pipe, 1 << 16)
            if not chunk:
                self._lose()
            self._unread += chunk
            if len(self._unread) > 64 * self._limits.output_chars + (1 << 20):  # not a reply the worker wrote
                self._lose(garbled=True)
        line, self._unread = self._unread.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            self._lose(garbled=True)
        if not isinstance(reply, dict):
            self._lose(garbled=True)
        return reply

    def _lose(self, timed_out: bool = False, garbled: bool = False) -> NoReturn:
        if not (timed_out or garbled):  # it closed its end: let it finish dying, to learn how it ended
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=2)
        returncode = None if timed_out or garbled else self._process.returncode
        self.kill()
        raise _WorkerLost(timed_out=timed_out, returncode=returncode)


def _well_formed(reply: dict[str, Any]) -> bool:
    return (isinstance(reply.get("stdout"), str) and isinstance(reply.get("cut"), int)
            and isinstance(reply.get("error"), (str, type(None))) and isinstance(reply.get("memory"), bool)
            and isinstance(reply.get("cpu"), (int, float)))


def _worker_environment(workdir: Path) -> dict[str, str]:
    """A minimal environment: no proxies, no tokens, one thread per numeric library."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _kill(process: subprocess.Popen) -> None:
    """Kill the worker's process group, reap it and close its pipes."""
    if process.returncode is None:  # once reaped, its pid (and group id) may belong to someone else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    process.stdin.close()
    process.stdout.close()


# ---- The worker half: everything below runs in the child, as `python -I sandbox.py CONFIG`. ----

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

NETWORK_REFUSED = "network access is not allowed in the sandbox"
PROCESSES_REFUSED = "starting or signalling processes is not allowed in the sandbox"
NATIVE_CODE_REFUSED = "loading native code with ctypes is not allowed in the sandbox"
LIMITS_REFUSED = "changing resource limits is not allowed in the sandbox"

_PROCESS_EVENTS = frozenset({
    "os.exec", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.posix_spawn", "os.spawn", "os.startfile",
    "os.system", "pty.spawn", "signal.pthread_kill", "subprocess.Popen",
})
# Audit events that change the file system: event -> (index of a path argument, index of its dir_fd or None).
_FILE_EVENTS = {
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.link": ((0, 2), (1, 3)),  # the source too: a hard link to an outside file would make it writable
    "os.mkdir": ((0, 2),),
    "os.remove": ((0, 1),),
    "os.removexattr": ((0, None),),
    "os.rename": ((0, 2), (1, 3)),  # also os.replace
    "os.rmdir": ((0, 1),),
    "os.setxattr": ((0, None),),
    "os.symlink": ((1, 2),),  # only where the link goes: writing through it is checked where it points
    "os.truncate": ((0, None),),
    "os.utime": ((0, 3),),
    "shutil.rmtree": ((0, 1),),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _worker_main(config: dict[str, Any]) -> None:
    # The protocol gets private descriptors; 0 and 1 become /dev/null, so neither input() nor a C library
    # printing to fd 1 can reach it.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    _leave_the_network()  # before numpy, which may start threads: a new user namespace needs just one
    for name in PRELOADED:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _forget_process_spawner()
    _set_limits(config["memory_bytes"], config["file_bytes"])
    sys.addaudithook(_audit_hook(config["workdir"]))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    _reply(replies, {"cpu": _cpu_seconds()})
    for line in requests:
        reply = _execute(json.loads(line)["code"], namespace, config["output_chars"])
        _reply(replies, {**reply, "cpu": _cpu_seconds()})


def _reply(replies: IO[bytes], message: dict[str, Any]) -> None:
    try:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()
    except MemoryError:
        os._exit(_OUT_OF_MEMORY_STATUS)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _leave_the_network() -> bool:
    """Move into a new network namespace, which has only a loopback device that is down; False if refused.

    A new network namespace needs CAP_SYS_ADMIN, or a new user namespace where unprivileged ones are allowed.
    Through ctypes because `os.unshare` only came in Python 3.12.
    """
    try:
        import ctypes

        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        return False
    if unshare(CLONE_NEWNET) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    # Keep our own ids inside the new user namespace (otherwise we would show up as "nobody").
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                       ("/proc/self/gid_map", f"{gid} {gid} 1")):
        with contextlib.suppress(OSError), open(path, "w") as file:
            file.write(text)
    return True


def _forget_process_spawner() -> None:
    """Drop subprocess's handle on `_posixsubprocess.fork_exec`, which starts processes without an audit event.

    After this, `subprocess` raises its audit event and then finds nothing to call; the hook refuses to
    import `_posixsubprocess` again (by `import`, `importlib` or `_imp` alike: all raise the import event).
    """
    spawner = sys.modules.pop("_posixsubprocess", None)
    if spawner is None:
        return
    handles = (spawner, getattr(spawner, "fork_exec", None))
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if any(value is handle for handle in handles):
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(module, name)


def _set_limits(memory_bytes: int, file_bytes: int) -> None:
    """Soft and hard limits alike, so the code cannot raise them again (root could, but the hook refuses)."""
    for which, value in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_FSIZE, file_bytes),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 0)):
        with contextlib.suppress(ValueError, OSError):
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))


def _audit_hook(workdir: str) -> Callable[[str, tuple], None]:
    root = os.path.realpath(workdir)

    def inside(path: Any, dir_fd: Any = None) -> bool:
        try:
            if isinstance(path, int):  # an open descriptor: judge the file it is open on
                path = f"/proc/self/fd/{path}"
            path = os.fsdecode(os.fspath(path))
            if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(path):
                path = os.path.join(f"/proc/self/fd/{dir_fd}", path)
            full = os.path.realpath(path)
        except (TypeError, ValueError, OSError):
            return False
        return full == root or full.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags >= 0 and flags & _WRITE_FLAGS)
            # os.open (the one with no mode) does not tell the hook its dir_fd, against which a relative path
            # resolves, so it may write only through an absolute path.
            if writes and mode is None and isinstance(path, (str, bytes)) and not os.path.isabs(path):
                raise PermissionError(f"os.open may write only through an absolute path in the sandbox: {path!r}")
            if writes and not inside(path):
                raise PermissionError(f"writing outside the sandbox's directory is not allowed: {path!r}")
        elif event in _FILE_EVENTS:
            for path_at, dir_fd_at in _FILE_EVENTS[event]:
                dir_fd = args[dir_fd_at] if dir_fd_at is not None and dir_fd_at < len(args) else None
                if not inside(args[path_at], dir_fd):
                    raise PermissionError(f"changing files outside the sandbox's directory is not allowed: "
                                          f"{args[path_at]!r}")
        elif event.startswith("socket."):
            raise PermissionError(NETWORK_REFUSED)
        elif event in _PROCESS_EVENTS or (event == "import" and args[0] == "_posixsubprocess"):
            raise PermissionError(PROCESSES_REFUSED)
        elif event.startswith("ctypes."):
            raise PermissionError(NATIVE_CODE_REFUSED)
        elif event in ("resource.setrlimit", "resource.prlimit"):
            raise PermissionError(LIMITS_REFUSED)

    return hook


class _CappedText(io.TextIOBase):
    """A stdout that keeps the first `limit` characters and only counts the rest, so a print loop costs no memory."""

    def __init__(self, limit: int):
        self._kept: list[str] = []
        self._room = limit
        self.cut = 0

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self._room > 0:
            kept = text[: self._room]
            self._kept.append(kept)
            self._room -= len(kept)
            self.cut += len(text) - len(kept)
        else:
            self.cut += len(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._kept)


def _execute(code: str, namespace: dict[str, Any], output_chars: int) -> dict[str, Any]:
    """Run one block in the shared namespace: its captured output, and its error's last line if it failed."""
    output = _CappedText(output_chars)
    sys.stdin = io.StringIO()  # input() meets the end of input at once; exit() closes stdin, so a new one each time
    error, memory = None, False
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exec(compile(code, "<code>", "exec"), namespace)
    except MemoryError:
        memory = True
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            error = _last_line(exit_)
    except BaseException as exc:  # whatever the code raises is the model's to read, KeyboardInterrupt too
        error = _last_line(exc)
    return {"stdout": output.getvalue(), "cut": output.cut, "error": error, "memory": memory}


def _last_line(exc: BaseException) -> str:
    """The last line of the traceback, as Qwen's executor shows it: `ZeroDivisionError: division by zero`."""
    line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS] + " ..."


if __name__ == "__main__":
    _worker_main(json.loads(sys.argv[1]))
