"""ZeroGPU, the Hugging Face Spaces hardware that lends a GPU slice to each call of a `@spaces.GPU` function.

Detected from `SPACES_ZERO_GPU`, which Spaces sets. There, `spaces` must be imported before anything
touches CUDA (it patches torch: the main process has no GPU, and `.to("cuda")` is recorded until a
GPU call), so `app.py` imports this module first. On ZeroGPU the app (`playground.services`):

- loads the catalogue's models at start-up onto `cuda` and keeps them: no lazy loading, eviction or
  keep-alive; the memory budget is the slice (`spaces`' configured total), since `mem_get_info`
  answers a constant there;
- decodes one request at a time per call (no batching) inside `generate`, a `@spaces.GPU` generator
  whose duration comes from the request (`duration`: model size x max new tokens, capped), with max
  new tokens capped for visitors' daily quota (`MAX_NEW_TOKENS`);
- stops through Gradio's own cancel: closing the stream closes the GPU call (its worker is a
  forked process, which a `Cancel` set here would not reach).

Outside ZeroGPU `spaces.GPU` returns the function as it is; nothing here is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

ACTIVE = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
if ACTIVE:
    import spaces  # noqa: F401  (before torch initialises CUDA)

MAX_NEW_TOKENS = 2048  # a visitor's reply on ZeroGPU: their quota is minutes a day
BASE_S = 15.0  # a GPU call's fixed cost: getting the slice, moving the weights, the prompt
SECONDS_PER_BILLION_TOKEN = 0.004  # decoding one token of a 1B-parameter model, bf16, with room to spare
MAX_DURATION_S = 120  # what a call may ask for; longer calls wait longer in ZeroGPU's queue

_registry: Any = None  # the registry `generate` serves from (set once, at start-up, by `serve`)


def slice_bytes() -> int:
    """The GPU memory a call gets: `spaces`' configured slice (70 GB of an H200 by default)."""
    from spaces.config import Config

    return Config.zerogpu_cuda_total_memory


def duration(request: Any) -> int:
    """Seconds to ask ZeroGPU for: the fixed cost plus model size x max new tokens, capped."""
    spec = _registry.catalog.get(request.model) if _registry is not None else None
    billions = (spec.params_billion or 8.0) if spec is not None else 8.0
    tokens = min(request.sampling.max_new_tokens, MAX_NEW_TOKENS)
    return int(min(BASE_S + billions * tokens * SECONDS_PER_BILLION_TOKEN, MAX_DURATION_S))


def _generate(request: Any) -> Iterator[Any]:
    """One reply's events, run on the GPU slice; the model is already loaded (preloaded, never evicted)."""
    from playground.requests import Cancel

    request = replace(request, sampling=replace(request.sampling,
                                                max_new_tokens=min(request.sampling.max_new_tokens, MAX_NEW_TOKENS)))
    with _registry.acquire(request.model, request.precision) as lease:
        yield from lease.loaded.backend.stream(request, Cancel())


def serve(registry: Any) -> Callable[[Any], Iterator[Any]]:
    """`generate` for `registry`: `_generate` behind `@spaces.GPU(duration=duration)`."""
    import spaces

    global _registry
    _registry = registry
    return spaces.GPU(duration=duration)(_generate)
