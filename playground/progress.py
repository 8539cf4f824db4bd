"""Routes the progress bars of a model load (downloads, "Loading weights") to that load's `LoadProgress`.

transformers and huggingface_hub report a load through tqdm bars: one per downloaded file (in
bytes) and one over the weights being placed. `reporting(progress)` makes every bar created on
this thread, while it is active, silent and counted into `progress` instead: downloads add up
to one "download" stage (bytes of all files), the weights bar is the "weights" stage. Bars of
other threads (another load, anything else) are left as they are, so concurrent loads each
see their own progress.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm
from transformers.utils import logging as transformers_logging

from playground.registry import LoadProgress

_local = threading.local()
_installed = threading.Lock()
_hooked = False


class _Downloads:
    """Bytes done and expected over all files of one load."""

    def __init__(self, progress: LoadProgress):
        self.progress = progress
        self.files: dict[int, tuple[int, int | None]] = {}

    def update(self, bar: int, done: int, total: int | None) -> None:
        self.files[bar] = (done, total)
        totals = [t for _, t in self.files.values()]
        total_bytes = sum(t for t in totals if t) if all(totals) else None
        self.progress.report("download", sum(d for d, _ in self.files.values()), total_bytes)


class ReportingBar(tqdm):
    """A tqdm bar that draws nothing and counts into the current thread's load progress."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)
        self.n = 0
        if self.total is None and self.iterable is not None and hasattr(self.iterable, "__len__"):
            self.total = len(self.iterable)
        self._progress: LoadProgress | None = getattr(_local, "progress", None)
        self._downloads: _Downloads | None = getattr(_local, "downloads", None)
        self._bytes = kwargs.get("unit") == "B"

    def _report(self) -> None:
        if self._progress is None:
            return
        if self._bytes and self._downloads is not None:
            self._downloads.update(id(self), self.n, self.total)
        else:
            self._progress.report("weights", self.n, self.total)

    def update(self, n: float | None = 1) -> bool | None:
        self.n += int(n or 0)
        self._report()
        return None

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable:
            yield item
            self.n += 1
            self._report()


def _hook(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if getattr(_local, "progress", None) is not None:
        return ReportingBar(*args, **kwargs)
    return factory(*args, **kwargs)


@contextmanager
def reporting(progress: LoadProgress) -> Iterator[type[tqdm]]:
    """While active, bars made on this thread count into `progress`. Yields the tqdm class for downloads."""
    global _hooked
    with _installed:
        if not _hooked:  # once per process; the hook passes every other thread's bars through unchanged
            transformers_logging.set_tqdm_hook(_hook)
            _hooked = True
    _local.progress, _local.downloads = progress, _Downloads(progress)
    try:
        yield ReportingBar
    finally:
        _local.progress = _local.downloads = None
