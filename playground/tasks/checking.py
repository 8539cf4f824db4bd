"""Checks final answers with Hugging Face's math-verify, in a worker process.

`check(expected, answer)` says whether a model's final answer equals the expected one, in the
sense math-verify gives it (LaTeX and plain numbers, fractions vs decimals, sets, intervals,
equivalent expressions); `groups(answers)` puts equivalent answers together, for a majority vote.

Why a process: math-verify bounds its own parsing and comparison with SIGALRM, which works only
in a main thread, and sympy can take a long time over a pathological expression. The worker
runs each job in its main thread (math-verify's timeouts work there), and the caller also waits
at most `TIMEOUT_S`: a worker that takes longer is replaced, and the answer is "could not tell".
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.errors import InvalidRequestError
from playground.i18n import Said

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 10.0
LONGEST = 500  # characters of an expected answer


@dataclass(frozen=True)
class Check:
    correct: bool | None  # None: there was no answer to check, or the check could not decide
    said: Said | None = None  # why it could not decide

    @property
    def note(self) -> str:
        """Why it could not decide, in English ("" if it decided); an edge that speaks another language says
        `said` itself."""
        return str(self.said) if self.said else ""


# --- in the worker ------------------------------------------------------------------------------


def _parsed(text: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    text = text.strip().strip("$").strip()
    return parse(f"${text}$", extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()])


def _readable(text: str) -> bool:
    """Whether math-verify reads it as math (it keeps the raw string as well; that alone is not enough)."""
    return any(not isinstance(part, str) for part in _parsed(text))


def _verify(expected: str, answer: str) -> bool:
    from math_verify import verify

    gold, target = _parsed(expected), _parsed(answer)
    return bool(gold and target and verify(gold, target))


def _groups(answers: list[str]) -> list[int]:
    """For each answer, the index of the first answer equivalent to it."""
    from math_verify import verify

    parsed = [_parsed(a) for a in answers]
    leaders: list[int] = []
    out = []
    for i, (text, p) in enumerate(zip(answers, parsed, strict=True)):
        same = next((j for j in leaders if answers[j].strip() == text.strip() or
                     (p and parsed[j] and verify(parsed[j], p))), None)
        if same is None:
            leaders.append(i)
            same = i
        out.append(same)
    return out


# --- in the server ----------------------------------------------------------------------------------


class _Worker:
    """One worker process (`python -m playground.tasks.checking`, JSON lines), replaced when it hangs or dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None

    def call(self, name: str, *args: Any, timeout_s: float = TIMEOUT_S) -> Any:
        """The result of `name(*args)` in the worker; raises TimeoutError if it takes over `timeout_s`."""
        with self._lock:  # one job at a time: a job is a few milliseconds
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen([sys.executable, "-m", __name__], cwd=ROOT, stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, text=True, bufsize=1,
                                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            process = self._process
            replies: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: replies.put(process.stdout.readline()), daemon=True).start()
            try:
                process.stdin.write(json.dumps([name, args]) + "\n")
                process.stdin.flush()
                line = replies.get(timeout=timeout_s)
            except (queue.Empty, OSError):
                line = ""
            if not line:  # hung or died: the next call starts a fresh worker
                log.warning("math-verify's worker did not answer %s within %.0f s; restarting it", name, timeout_s)
                process.kill()
                self._process = None
                raise TimeoutError(name)
            return json.loads(line)


_worker = _Worker()


def read_expected(text: str | None) -> str | None:
    """The expected answer as given (None if empty); refused with a clear message if math-verify cannot read it."""
    if text is None or not text.strip("$ \n\t"):
        return None
    text = text.strip().strip("$").strip()  # "$\frac{1}{2}$" is "\frac{1}{2}": the tab adds its own delimiters
    if len(text) > LONGEST:
        raise InvalidRequestError("check.expected_too_long", length=len(text), limit=LONGEST)
    try:
        readable = _worker.call("readable", text)
    except TimeoutError:
        readable = False
    if not readable:
        raise InvalidRequestError("check.unreadable", text=text)
    return text


def check(expected: str, answer: str | None) -> Check:
    """Whether `answer` equals `expected` (both as the model or the user wrote them, without \\boxed)."""
    if answer is None:
        return Check(None, Said("check.no_answer"))
    try:
        correct = _worker.call("verify", expected, answer)
    except TimeoutError:
        return Check(None, Said("check.took_too_long", {"seconds": TIMEOUT_S}))
    return Check(correct, None if correct is not None else Said("check.undecided"))


def groups(answers: list[str]) -> list[int]:
    """For each answer, the index of the first equivalent one (identical text at worst, if the check hangs)."""
    try:
        found = _worker.call("groups", answers)
    except TimeoutError:
        found = None
    if found is None:
        firsts: dict[str, int] = {}
        return [firsts.setdefault(a.strip(), i) for i, a in enumerate(answers)]
    return found


JOBS = {"readable": _readable, "verify": _verify, "groups": _groups}

if __name__ == "__main__":  # the worker: one JSON job per line in, its result per line out
    for job in sys.stdin:
        name, args = json.loads(job)
        try:
            result = JOBS[name](*args)
        except Exception:  # math-verify's own timeouts and parse failures: "could not tell"
            result = None
        print(json.dumps(result), flush=True)
