"""The serial decoder: one `model.generate` per request, in a worker thread, at most `slots` at a time.

The CPU default, with one slot: on a few cores, parallel requests only contend for them, so the
next request waits for the current one (and can be stopped while it waits). On CUDA without
batching, each of `slots` requests runs its own `generate` concurrently. Vision models and 8-bit
models always decode here (see `backends.choose`).

Sampling is `backends.sampler`'s, run as the last logits processor with `do_sample=False`, so the
greedy step of `generate` takes exactly the token the request's own generator drew. With
`compile`, `generate` uses a static KV cache, which transformers compiles on CUDA; the first
calls compile, so `warm_up` runs them when the model loads rather than on a user's message.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from playground.backends.local import Progress
from playground.backends.prompt import Prompt, as_tensor
from playground.backends.sampler import RowSampler, sample
from playground.catalog import Sampling
from playground.devices import is_out_of_memory, release_memory
from playground.errors import OutOfMemory, PlaygroundError
from playground.requests import Cancel, Finish
from playground.tasks.thinking import ThinkingBudget

_DONE = object()
WAIT_POLL_S = 0.05


class _PickOne(LogitsProcessor):
    """Leaves only the token `backends.sampler` picks selectable, for a greedy `generate` to take."""

    def __init__(self, row: RowSampler):
        self.row = row

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        seen = None
        if self.row.sampling.repetition_penalty != 1.0:
            seen = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device).scatter_(1, input_ids, True)
        (token,) = sample(scores, seen, [self.row])
        picked = torch.full_like(scores, float("-inf"))
        picked[0, token] = 0.0
        return picked


class _StopOnCancel(StoppingCriteria):
    def __init__(self, cancel: Cancel):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)


class _TokenQueue(BaseStreamer):
    """Receives each new token from `generate` (the prompt comes first and is skipped)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Any] = queue.Queue()
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.view(-1).tolist():
            self.queue.put(token)

    def end(self) -> None:
        self.queue.put(_DONE)


class SerialDecoder:
    name = "serial"

    def __init__(self, model: Any, device: str, slots: int = 1, compile: bool = False):
        self.model = model
        self.device = device
        self._slots = threading.Semaphore(slots)
        self._closed = threading.Event()
        self.config = copy.deepcopy(model.generation_config)
        # Neutral values, not None: transformers 5 fills None from the model's own generation
        # config and then warns that greedy decoding ignores them. Sampling is `_PickOne`'s.
        self.config.update(do_sample=False, temperature=1.0, top_p=1.0, top_k=50, min_p=None, repetition_penalty=1.0)
        self.compiled = compile
        if compile:
            self.config.update(cache_implementation="static")
        self.eos = set(_as_list(self.config.eos_token_id))

    def warm_up(self, prompt: Prompt) -> None:
        """Run two short requests, so that compiling happens now rather than on a user's first message."""
        for _ in range(2):
            for _token in self.tokens(prompt, Sampling(temperature=0, max_new_tokens=8), Cancel(), Progress()):
                pass

    def tokens(self, prompt: Prompt, sampling: Sampling, cancel: Cancel, progress: Progress,
               budget: ThinkingBudget | None = None) -> Iterator[int]:
        while not self._slots.acquire(timeout=WAIT_POLL_S):
            if cancel.is_set() or self._closed.is_set():
                progress.finish = Finish.CANCELLED
                return
        try:
            progress.started = time.perf_counter()
            yield from self._generate(prompt, RowSampler(sampling, self.model.device, budget), cancel, progress)
        finally:
            self._slots.release()

    def _generate(self, prompt: Prompt, row: RowSampler, cancel: Cancel, progress: Progress) -> Iterator[int]:
        sampling = row.sampling
        streamer = _TokenQueue()
        failure: list[BaseException] = []
        inputs = {k: v.to(self.model.device) if hasattr(v, "to") else v for k, v in prompt.model_inputs.items()}
        config = copy.copy(self.config)
        config.max_new_tokens = sampling.max_new_tokens

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(
                        input_ids=as_tensor(prompt.input_ids, self.model.device),
                        **inputs,
                        generation_config=config,
                        logits_processor=LogitsProcessorList([_PickOne(row)]),
                        stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel)]),
                        streamer=streamer,
                    )
            except BaseException as exc:  # re-raised in the caller below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="generate", daemon=True)
        worker.start()
        count, last = 0, None
        try:
            while (token := streamer.queue.get()) is not _DONE:
                count, last = count + 1, token
                yield token
        except BaseException:  # the caller closed the stream: stop the model, then let go
            cancel.set()
            worker.join()
            raise
        worker.join()
        if failure:
            exc = failure[0]
            if is_out_of_memory(exc):
                release_memory(self.device)
                raise OutOfMemory("load.oom_generating") from exc
            raise PlaygroundError("error.generation_failed", error=f"{type(exc).__name__}: {exc}") from exc
        progress.finish = Finish.STOP if last in self.eos else Finish.LENGTH if count >= sampling.max_new_tokens \
            else Finish.CANCELLED

    def close(self) -> None:
        self._closed.set()


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
