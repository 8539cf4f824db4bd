"""Who may add a request to the queue now: at most N per session and per address, and a rate per address.

The queue (Gradio's) holds the requests that wait for a free slot, up to its size. On its own it
lets one browser tab or one script fill it: `Admission.refusal` is asked before a request joins,
with how many requests that session and that network address already have running or waiting,
and answers None (let it in) or the sentence to show instead. A refusal costs nothing: no work
was started, nothing entered a history.

The rate limit is per network address (a session id is free to mint, an address is not): at most
`Rate.count` requests in any `Rate.period_s`, counted (`sent`) when they join. Its refusal says how
many seconds to wait. Addresses and sessions are forgotten when they have nothing left to count.

A refusal is words yet to be made (`Said`: a key of `locales/<language>/admission.toml` and its
numbers): the browser is told in its session's language (`tabs.guard`), the HTTP API in English
(`Refusal.text`), with the seconds to wait as a number of its own (`Refusal.wait_s`, for
Retry-After). Nothing here knows about Gradio or HTTP.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground.i18n import Said, say

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    count: int
    period: str  # "second", "minute" or "hour"

    @property
    def period_s(self) -> float:
        return PERIODS[self.period]

    @staticmethod
    def parse(text: str | None) -> Rate | None:
        """`"100/hour"` -> Rate(100, "hour"); `"off"`, `"0"` or nothing -> None. ValueError names the shape."""
        if text is None or text.strip().lower() in ("", "off", "0", "none"):
            return None
        match = _RATE.match(text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"expected N/second, N/minute or N/hour (e.g. 100/hour) or off, got {text!r}")
        return Rate(int(match.group(1)), match.group(2).lower())


@dataclass(frozen=True)
class Policy:
    per_session: int  # requests running or waiting at once
    per_address: int
    rate: Rate | None  # per address; None: no limit
    queue_size: int  # the queue's bound, for the "busy" sentence


@dataclass(frozen=True)
class Refusal:
    said: Said  # why, and what to do
    wait_s: int | None = None  # when the rate limit refuses: seconds until it would not

    @property
    def text(self) -> str:
        """The refusal in English (the HTTP API's words)."""
        return str(self.said)


class Admission:
    def __init__(self, policy: Policy, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}  # per address: when its requests were let in, oldest first

    def refusal(self, address: str, session_outstanding: int, address_outstanding: int,
                language: str | None = None) -> str | None:
        """None if a request may join, else why not, in a sentence with what to do, in `language` (None: English).
        `sent` counts one that did."""
        refused = self.check(address, session_outstanding, address_outstanding)
        return refused.said.text(language) if refused is not None else None

    def check(self, address: str, session_outstanding: int, address_outstanding: int) -> Refusal | None:
        """`refusal` as words yet to be made, with the seconds to wait where the rate limit is what refuses."""
        p = self.policy
        if session_outstanding >= p.per_session:
            return Refusal(Said("admission.per_session", {"outstanding": session_outstanding}))
        if address_outstanding >= p.per_address:
            return Refusal(Said("admission.per_address", {"outstanding": address_outstanding}))
        if p.rate is None:
            return None
        now = self._clock()
        with self._lock:
            self._forget(now)
            sent = self._sent.get(address, ())
            if len(sent) >= p.rate.count:
                wait = max(1, math.ceil(sent[0] + p.rate.period_s - now))
                return Refusal(Said("admission.rate_limited", {
                    "sent": len(sent), "count": p.rate.count, "period": Said(f"admission.{p.rate.period}"),
                    "wait": wait_words(wait)}), wait)
        return None

    def sent(self, address: str) -> None:
        """A request from `address` joined the queue: it counts against the rate."""
        if self.policy.rate is None:
            return
        with self._lock:
            self._sent.setdefault(address, deque()).append(self._clock())

    def busy(self, language: str | None = None) -> str:
        """What a request that finds the queue full is told, in `language` (None: English)."""
        return say(language, "admission.busy", waiting=self.policy.queue_size)

    def _forget(self, now: float) -> None:
        """Drop the sends older than the rate's period, and addresses with none left."""
        assert self.policy.rate is not None
        horizon = now - self.policy.rate.period_s
        for address in list(self._sent):
            sent = self._sent[address]
            while sent and sent[0] <= horizon:
                sent.popleft()
            if not sent:
                del self._sent[address]

    @property
    def tracked_addresses(self) -> int:
        with self._lock:
            return len(self._sent)


def wait_words(seconds: float) -> Said:
    """How long to wait: whole seconds up to two minutes, then whole minutes (rounded up, at least 1 s)."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return Said("admission.wait_seconds", {"seconds": seconds})
    return Said("admission.wait_minutes", {"minutes": math.ceil(seconds / 60)})


def address_of(request: Any) -> str:
    """The client's network address (of a Starlette or Gradio request): the first X-Forwarded-For entry behind a
    proxy (a Space), else the peer."""
    forwarded = request.headers.get("x-forwarded-for") if request is not None else None
    if forwarded:
        return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return client.host if client else "unknown"
