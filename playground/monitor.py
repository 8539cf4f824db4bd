"""What the app has been doing: each finished request, rolling figures for /health, an hour of samples, the log.

The engine hands every request it ends, however it ends, to `Monitor.finished` as a `Record`:

- the **request log** (`RequestLog`, when the operator names a file) gets one JSON line with the
  time, request id, a salted hash of the session, the model, precision, tokens in and out, time
  to first token, duration and outcome (`done`, `stopped`, `disconnected`, `error`). Prompts are
  written only as a salted hash (the same prompt gives the same hash until the app restarts)
  unless the operator opts in to the raw text. The file is rotated at 10 MB, keeping 5.
- **rolling figures** over the last `WINDOW_S` (p50/p95 time to first token, tokens per second,
  error rate), for `/health`.
- **samples** taken every `SAMPLE_S` for the last hour (tok/s, time to first token, queue depth,
  running requests, memory), for the Monitor plots.

Queue depth is the web layer's (the Gradio queue), so it comes in as a function. Nothing here
knows about Gradio.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import logging.handlers
import secrets
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playground.memory import used
from playground.requests import Metrics, Request, message_text

WINDOW_S = 5 * 60.0  # rolling figures cover the last five minutes
SAMPLE_S = 10.0
HISTORY_S = 3600.0
LOG_BYTES, LOG_BACKUPS = 10 * 2**20, 5

OUTCOMES = ("done", "stopped", "disconnected", "error")


@dataclass
class Record:
    """One request from its arrival to its end, as the engine saw it."""

    request: Request
    started: float = field(default_factory=time.monotonic)
    outcome: str = "error"
    error: str | None = None  # the error's kind (its class name), where it failed
    metrics: Metrics | None = None


@dataclass(frozen=True)
class Sample:
    at: float  # wall-clock seconds (time.time)
    tokens_per_s: float | None  # generated tokens per second, all requests together, over the last interval
    ttft_s: float | None  # median time to first token of the requests that ended in the interval
    queue: int
    running: int
    memory_used: int  # bytes on the model device


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by the nearest-rank rule; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


class RequestLog:
    """One JSON line per request, rotated by size; prompts and sessions as salted hashes."""

    def __init__(self, path: str | Path, raw_prompts: bool = False, salt: bytes | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.raw_prompts = raw_prompts
        self._salt = salt or secrets.token_bytes(16)
        self._log = logging.getLogger(f"playground.requests.{id(self)}")
        self._log.propagate = False
        self._log.setLevel(logging.INFO)
        self._handler = logging.handlers.RotatingFileHandler(self.path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                                             encoding="utf-8")
        self._log.addHandler(self._handler)

    def hashed(self, text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8", "replace"), key=self._salt, digest_size=8).hexdigest()

    def line(self, record: Record) -> dict[str, Any]:
        request, m = record.request, record.metrics
        prompt = next((message_text(x) for x in reversed(request.messages) if x.get("role") == "user"),
                      request.completion or "")
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "id": request.id,
            "session": self.hashed(request.client) if request.client else None,
            "model": request.model,
            "precision": str(m.precision or "remote") if m else (str(request.precision) if request.precision else None),
            "tokens_in": m.prompt_tokens if m else None,
            "tokens_out": m.tokens if m else None,
            "ttft_s": round(m.time_to_first_token_s, 3) if m and m.time_to_first_token_s is not None else None,
            "seconds": round(time.monotonic() - record.started, 3),
            "outcome": record.outcome,
            "error": record.error,
            "prompt_hash": self.hashed(prompt),
        }
        if self.raw_prompts:
            line["prompt"] = prompt
        return line

    def write(self, record: Record) -> None:
        self._log.info(json.dumps(self.line(record), ensure_ascii=False))

    def close(self) -> None:
        self._log.removeHandler(self._handler)
        self._handler.close()


class Monitor:
    def __init__(self, memory: Callable[[], int] | None = None, log: RequestLog | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.log = log
        self.started = clock()
        self.queue_depth: Callable[[], int] = lambda: 0  # the web layer sets this
        self._memory = memory or functools.partial(used, "cpu")
        self._clock = clock
        self._lock = threading.Lock()
        self._running = 0
        self._ended: deque[tuple[float, Record]] = deque()  # (ended at, record), the last WINDOW_S
        self._samples: deque[Sample] = deque(maxlen=int(HISTORY_S / SAMPLE_S))
        self._tokens_since_sample = 0
        self._ttfts_since_sample: list[float] = []
        self._last_sample = clock()
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()

    # --- what the engine tells it

    def started_request(self) -> None:
        with self._lock:
            self._running += 1

    def finished(self, record: Record) -> None:
        now = self._clock()
        with self._lock:
            self._running -= 1
            self._ended.append((now, record))
            self._trim(now)
            if record.metrics is not None:
                self._tokens_since_sample += record.metrics.tokens
                if record.metrics.time_to_first_token_s is not None:
                    self._ttfts_since_sample.append(record.metrics.time_to_first_token_s)
        if self.log is not None:
            try:
                self.log.write(record)
            except OSError:  # a full disk must not fail the request
                logging.getLogger(__name__).exception("could not write the request log")

    # --- what /health and the plots read

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def figures(self) -> dict[str, Any]:
        """Rolling figures over the last `WINDOW_S`: requests, outcomes, TTFT p50/p95, tok/s, error rate."""
        with self._lock:
            self._trim(self._clock())
            records = [r for _, r in self._ended]
        ttfts = [r.metrics.time_to_first_token_s for r in records
                 if r.metrics is not None and r.metrics.time_to_first_token_s is not None]
        speeds = [r.metrics.tokens_per_s for r in records if r.metrics is not None and r.metrics.tokens > 1]
        errors = sum(r.outcome == "error" for r in records)
        return {
            "window_s": WINDOW_S,
            "requests": len(records),
            "outcomes": {o: sum(r.outcome == o for r in records) for o in OUTCOMES},
            "ttft_p50_s": _rounded(percentile(ttfts, 50)),
            "ttft_p95_s": _rounded(percentile(ttfts, 95)),
            "tokens_per_s_p50": _rounded(percentile(speeds, 50), 1),
            "error_rate": round(errors / len(records), 4) if records else 0.0,
        }

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def sample(self) -> Sample:
        """Take one sample now (the sampler thread does this every `SAMPLE_S`)."""
        now = self._clock()
        with self._lock:
            elapsed = max(now - self._last_sample, 1e-9)
            tokens, ttfts = self._tokens_since_sample, self._ttfts_since_sample
            self._tokens_since_sample, self._ttfts_since_sample, self._last_sample = 0, [], now
            running = self._running
        sample = Sample(at=time.time(), tokens_per_s=round(tokens / elapsed, 2) if tokens else None,
                        ttft_s=_rounded(statistics.median(ttfts)) if ttfts else None,
                        queue=self.queue_depth(), running=running, memory_used=self._memory())
        with self._lock:
            self._samples.append(sample)
        return sample

    def start_sampler(self, interval_s: float = SAMPLE_S) -> None:
        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.sample()
                except Exception:  # a failing probe must not end the sampling
                    logging.getLogger(__name__).exception("monitor sample failed")

        self._sampler = threading.Thread(target=run, name="monitor-sampler", daemon=True)
        self._sampler.start()

    def uptime_s(self) -> float:
        return self._clock() - self.started

    def close(self) -> None:
        self._stop.set()
        if self.log is not None:
            self.log.close()

    def _trim(self, now: float) -> None:
        while self._ended and self._ended[0][0] < now - WINDOW_S:
            self._ended.popleft()


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
