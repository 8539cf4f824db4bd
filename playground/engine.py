"""The one streaming entry point: every tab and the API hand a `Request` to `Engine.stream`.

The engine validates the request, holds the model through the registry and lets the model's
backend stream the reply's events. A model that is not loaded yet loads in a worker thread
while the stream reports `Loading` progress (at once, then twice a second), so the user sees
what the wait is for; stopping during the load leaves the load to finish for the next request.
If the device runs out of memory before any text came out, the engine reloads the model one
precision lower (the registry's ladder) and tries once more, saying so. Closing the stream
stops the request; the `Cancel` it was given receives the final metrics either way. Which
backend serves a model (serial, batched, remote) is the loader's choice; the engine never asks.
A model on another server (remote) has nothing to load: its lease is at hand at once.
Every request, however it ends, is handed to the `Monitor` (figures, samples, the request log).

The engine knows nothing about Gradio or how a tab lays out what it yields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing

from playground.errors import OutOfMemory
from playground.monitor import Monitor, Record
from playground.registry import Background, Lease, Registry
from playground.requests import Cancel, Event, InputLimits, Loading, Metrics, Notice, NoticeCode, Request

LOADING_INTERVAL_S = 0.5


class Engine:
    def __init__(self, registry: Registry, limits: InputLimits | None = None, monitor: Monitor | None = None,
                 generate: Callable[[Request], Iterator[Event]] | None = None):
        """`generate`: where a held model's reply is made, if not by its backend here (ZeroGPU's GPU calls:
        `playground.zerogpu`); it stops when its stream is closed."""
        self.registry = registry
        self.limits = limits or InputLimits()
        self.monitor = monitor or Monitor()
        self.generate = generate

    def stream(self, request: Request, cancel: Cancel | None = None) -> Iterator[Event]:
        """Yield events for one reply. Raises `PlaygroundError` subclasses for what the user should read.

        The monitor hears how it ended: done, stopped, disconnected (the stream closed early) or error.
        """
        cancel = cancel or Cancel()
        record = Record(request)
        self.monitor.started_request()
        try:
            with closing(self._stream(request, cancel)) as events:
                for event in events:
                    if isinstance(event, Metrics):
                        record.metrics = event
                    yield event
            stopped = record.metrics.stopped if record.metrics is not None else cancel.is_set()
            record.outcome = "stopped" if stopped else "done"
        except GeneratorExit:
            record.outcome, record.metrics = "disconnected", record.metrics or cancel.metrics
            raise
        except BaseException as exc:
            record.error = type(exc).__name__
            raise
        finally:
            self.monitor.finished(record)

    def _stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        try:
            request.validated(self.limits)
            lease = yield from self._acquire(request, cancel)
        except BaseException:
            cancel.finish(None)
            raise
        if lease is None:  # stopped while the model was loading
            cancel.finish(None)
            return
        try:
            retried = False
            while True:
                emitted = False
                try:
                    with closing(self._replies(lease, request, cancel)) as events:
                        for event in events:
                            emitted = True
                            yield event
                            if self.generate is not None and cancel.is_set():
                                break  # Stop: closing the GPU call's stream ends it
                    return
                except OutOfMemory as exc:
                    if retried or emitted:  # a retry after partial output would repeat it
                        raise OutOfMemory("load.oom_retried", model=request.model,
                                          precision=str(lease.precision)) from exc
                    retried = True
                    lease = self.registry.step_down(lease)
                    yield Notice(NoticeCode.OOM_RETRY, {"model": request.model, "precision": str(lease.precision)})
        finally:
            lease.release()
            if not cancel.ended:
                cancel.finish(None)

    def _replies(self, lease: Lease, request: Request, cancel: Cancel) -> Iterator[Event]:
        if self.generate is not None:
            return self.generate(request)
        return lease.loaded.backend.stream(request, cancel)

    def _acquire(self, request: Request, cancel: Cancel) -> Generator[Loading, None, Lease | None]:
        """The lease on the request's model; while it loads, `Loading` events. None if stopped meanwhile."""
        state = self.registry.state(request.model, request.precision)
        if state is not None and state.status in ("ready", "remote"):  # nothing to load
            return self.registry.acquire(request.model, request.precision)
        started = time.monotonic()
        loading = Background(self.registry, request.model, request.precision,
                             lambda: self.registry.acquire(request.model, request.precision), Lease.release)
        watch = loading.watch(LOADING_INTERVAL_S, stop=cancel.is_set)
        try:
            while True:
                state = next(watch)
                yield Loading(
                    model=request.model,
                    precision=state.precision if state else None,
                    bytes=state.estimate if state else None,
                    stage=(state.stage or "starting") if state else "starting",
                    progress=state.progress if state else None,
                    seconds=time.monotonic() - started,
                )
        except StopIteration as finished:
            return finished.value
        finally:
            watch.close()
