"""The request each (browser session, slot) ran last, and how it ran, for "Copy as code" (`tabs/copy_code.py`).

`tabs/reply.py` records every reply it streams under its Stop key: the request when it starts,
then, once the reply's metrics come, the precision the registry loaded the model at and how many
old messages were left out to fit the window. A task's loop around the request (the Math tab's
Python blocks) is recorded with the loop's first request: that is the one a learner can run as a
script (the rest of the loop needs the app's sandbox).

Module-wide, like the sessions' languages (`tabs.i18n`): Gradio hands a handler its session but
no per-session store outside the event's inputs. Bounded: the least recently used keys go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from playground.requests import Request
from playground.snippets import Ran

Key = tuple[str, str]  # (browser session, slot), as `tabs.reply.Stops` keys a reply


@dataclass(frozen=True)
class Last:
    request: Request
    ran: Ran


class LastRequests:
    """The last request per key; thread-safe, at most `limit` keys."""

    def __init__(self, limit: int = 2_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._last: OrderedDict[Key, Last] = OrderedDict()

    def record(self, key: Key, request: Request, ran: Ran) -> None:
        with self._lock:
            self._last[key] = Last(request, ran)
            self._last.move_to_end(key)
            while len(self._last) > self.limit:
                self._last.popitem(last=False)

    def get(self, key: Key) -> Last | None:
        with self._lock:
            return self._last.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._last)


LAST = LastRequests()
