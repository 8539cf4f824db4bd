"""Backends: how a loaded model turns a `Request` into events. The engine and the tabs never ask which.

Every backend has one method that matters, `stream(request, cancel) -> Iterator[Event]`. Local
models are served by `LocalBackend` with one of two decoders, chosen per loaded model by
`choose_decoder` from the settings and what the model allows:

- serial: one `generate` per request (the CPU default; vision and 8-bit models always);
- batched: concurrent requests decode together (the CUDA default).

Models another server runs are served by `remote.RemoteBackend`, through its OpenAI-compatible API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from playground.backends.batched import BatchedDecoder
from playground.backends.local import Decoder, LocalBackend
from playground.backends.prompt import build_prompt
from playground.backends.serial import SerialDecoder
from playground.catalog import ModelSpec, Precision
from playground.memory import context_tokens
from playground.requests import Cancel, Event, Request
from playground.settings import Settings

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Events of one reply, ending with `Metrics`; raises `PlaygroundError` for what a user should read."""
        ...

    def close(self) -> None: ...


def batching_wanted(settings: Settings, device: str) -> bool:
    return settings.batching.resolve(auto=device == "cuda")


def why_not_batched(spec: ModelSpec, precision: Precision, model: Any) -> str | None:
    """Why the batched decoder cannot serve this model, or None if it can."""
    if spec.is_vision:
        return "vision models decode one request at a time (images need their own position ids)"
    if precision is Precision.INT8:
        return "8-bit (LLM.int8) matrix products depend on the whole batch, so replies would change with load"
    text = model.config.get_text_config()
    layer_types = set(getattr(text, "layer_types", None) or ["full_attention"])
    if layer_types != {"full_attention"}:
        return f"sliding-window layers ({', '.join(sorted(layer_types))}) are not batched yet"
    return None


def concurrent_requests(settings: Settings, device: str, remote: bool = False) -> int:
    """How many requests the app should let through at once; the rest wait in its queue, which shows
    each its place. The CPU's serial decoder runs one request at a time, so more would only wait unseen,
    unless the catalogue has `remote` models, whose servers serve many at once (requests for a local
    model then wait for its decoder, and their metrics say how long)."""
    if device != "cuda" and not batching_wanted(settings, device) and not remote:
        return 1
    return settings.max_concurrent


def kv_token_budget(spec: ModelSpec, settings: Settings, device: str) -> tuple[int, int]:
    """KV-cache tokens a loaded model needs at least (one request's window) and would like to hold at once.

    The registry plans memory with these: a model fits if its weights and the least do, and gets
    up to the most where memory allows. The CPU (and Apple's GPU) without batching serves one request at a time.
    """
    window = context_tokens(spec)
    if device != "cuda" and not batching_wanted(settings, device):
        return window, window
    return window, window * settings.max_concurrent


def choose_decoder(spec: ModelSpec, precision: Precision, model: Any, device: str, settings: Settings,
                   kv_tokens: int) -> Decoder:
    if batching_wanted(settings, device):
        reason = why_not_batched(spec, precision, model)
        if reason is None:
            return BatchedDecoder(model, device, settings.max_concurrent, kv_tokens)
        log.info("%s at %s decodes serially: %s", spec.key, precision, reason)
    slots = settings.max_concurrent if device == "cuda" else 1
    compile = settings.compile.resolve(auto=False) and device == "cuda"
    return SerialDecoder(model, device, slots=slots, compile=compile)


def local_backend(spec: ModelSpec, precision: Precision, model: Any, processor: Any, device: str,
                  settings: Settings, kv_tokens: int) -> LocalBackend:
    """The backend for a freshly loaded model; a compiled decoder warms up here, while the model shows as loading."""
    decoder = choose_decoder(spec, precision, model, device, settings, kv_tokens)
    if isinstance(decoder, SerialDecoder) and decoder.compiled:
        log.info("%s: compiling the decoder (the first two requests); this takes a while once", spec.key)
        decoder.warm_up(build_prompt(processor, [{"role": "user", "content": "Hello"}], None, budget=64))
    return LocalBackend(spec, precision, model, processor, decoder, device, context_limit=settings.context_limit)
