"""The one streaming entry point: every tab and the API hand a `Request` to `Engine.stream`.

The engine validates the request, holds the model through the registry (loading it if needed)
and lets the model's backend stream the reply's events. If the device runs out of memory
before any text came out, it reloads the model one precision lower (the registry's ladder) and
tries once more, saying so. Closing the stream stops the request; the `Cancel` it was given
receives the final metrics either way. Which backend serves a model (serial, batched, remote)
is the loader's choice; the engine never asks.

The engine knows nothing about Gradio or how a tab lays out what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator

from playground.errors import OutOfMemory
from playground.registry import Registry
from playground.requests import Cancel, Event, Notice, NoticeCode, Request


class Engine:
    def __init__(self, registry: Registry):
        self.registry = registry

    def stream(self, request: Request, cancel: Cancel | None = None) -> Iterator[Event]:
        """Yield events for one reply. Raises `PlaygroundError` subclasses for what the user should read."""
        cancel = cancel or Cancel()
        try:
            request.validated()
            lease = self.registry.acquire(request.model, request.precision)
        except BaseException:
            cancel.finish(None)
            raise
        try:
            retried = False
            while True:
                emitted = False
                try:
                    for event in lease.loaded.backend.stream(request, cancel):
                        emitted = True
                        yield event
                    return
                except OutOfMemory as exc:
                    if retried or emitted:  # a retry after partial output would repeat it
                        raise OutOfMemory(
                            f"{request.model} ran out of memory while generating at {lease.precision}. Try a "
                            "shorter prompt, fewer new tokens, or a smaller model."
                        ) from exc
                    retried = True
                    lease = self.registry.step_down(lease)
                    yield Notice(NoticeCode.OOM_RETRY, {"model": request.model, "precision": str(lease.precision)})
        finally:
            lease.release()
            if not cancel.ended:
                cancel.finish(None)
