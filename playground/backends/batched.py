"""The batched decoder: concurrent requests for one model decode together, one token each per step.

One background thread owns the model. Each step it drops requests that were stopped, admits
waiting ones while the batch has room, and runs one forward pass for every active request at
once; a request joins or leaves between two steps without disturbing the others. On a GPU a
decode step costs about the same for 1 or 32 requests (it is bound by reading the weights, and
in eager mode by the CPU launching kernels), so throughput grows with the batch.

Layout: the batch's KV cache is a transformers `DynamicCache` of [requests, kv_heads, length,
head_dim], each request's tokens right-aligned (left padding, masked out), with explicit position
ids per request. A new request is prefilled alone (so its prompt is computed exactly as if it
were alone), then its cache is padded and stacked onto the batch's. When requests leave, the
columns that only they used are trimmed.

Admission keeps the batch's cache inside `kv_tokens`, the budget the registry planned memory
for: a request joins only if the padded cache, grown to the longest remaining request, still
fits (a request alone is always admitted). Sampling is `backends.sampler`'s, per request, so a
greedy or seeded request gives the same tokens alone or in a batch as long as the batch does not
change its logits: exactly so in float32; in 16-bit, batched matrix products round differently
and replies can diverge after some tokens.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache

from playground.backends.local import Progress
from playground.backends.prompt import Prompt, as_tensor
from playground.backends.sampler import RowSampler, sample
from playground.catalog import Sampling
from playground.devices import is_out_of_memory, release_memory
from playground.errors import OutOfMemory, PlaygroundError
from playground.requests import Cancel, Finish
from playground.tasks.thinking import ThinkingBudget

log = logging.getLogger(__name__)

_DONE = object()
IDLE_WAIT_S = 1.0


@dataclass
class _Row:
    """One request in the batch (or waiting to join it)."""

    prompt: Prompt
    sampler: RowSampler
    cancel: Cancel
    progress: Progress
    out: queue.Queue = field(default_factory=queue.Queue)
    generated: int = 0

    @property
    def max_new(self) -> int:
        return self.sampler.sampling.max_new_tokens

    @property
    def remaining(self) -> int:
        return self.max_new - self.generated

    @property
    def penalizes(self) -> bool:
        return self.sampler.sampling.repetition_penalty != 1.0

    def end(self, finish: Finish) -> None:
        self.progress.finish = finish
        self.out.put(_DONE)

    def fail(self, error: BaseException) -> None:
        self.out.put(error)


class _Batch:
    """The active requests and their stacked KV cache, mask, positions and last tokens."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [rows, length], 1 where a real token is cached
        self.positions: torch.Tensor | None = None  # [rows]: position id of each row's next input
        self.last: torch.Tensor | None = None  # [rows]: each row's newest token, the next input
        self.seen: torch.Tensor | None = None  # [rows, vocab]: tokens so far, while a row has a repetition penalty

    @property
    def length(self) -> int:
        return 0 if self.mask is None else self.mask.shape[1]

    def reserved_after(self, row: _Row | None = None) -> int:
        """Cache tokens the batch may grow to (padded), with `row` added, if its requests run to the end."""
        rows = [*self.rows, row] if row is not None else self.rows
        length = max(self.length, row.prompt.tokens if row is not None else 0)
        return len(rows) * (length + max(r.remaining for r in rows))

    def add(self, row: _Row, cache: DynamicCache, token: int, vocab: int) -> None:
        """Stack a prefilled request onto the batch, left-padding whichever side is shorter."""
        n, device = row.prompt.tokens, cache.layers[0].keys.device
        first = torch.tensor([token], device=device)
        mask = torch.ones((1, n), dtype=torch.long, device=device)
        if self.cache is None:
            self.cache, self.mask = cache, mask
            self.positions = torch.tensor([n], device=device)
            self.last = first
        else:
            length = max(self.length, n)
            layers = [
                tuple(torch.cat([_pad_left(a, length), _pad_left(b, length)]) for a, b in zip(old, new, strict=True))
                for old, new in zip(_tensors(self.cache), _tensors(cache), strict=True)
            ]
            self.cache = DynamicCache(layers)
            self.mask = torch.cat([_pad_left(self.mask, length, dim=1), _pad_left(mask, length, dim=1)])
            self.positions = torch.cat([self.positions, torch.tensor([n], device=device)])
            self.last = torch.cat([self.last, first])
        self.rows.append(row)
        if self.seen is not None or row.penalizes:
            seen = torch.zeros((1, vocab), dtype=torch.bool, device=device)
            if row.penalizes:
                seen[0, row.prompt.input_ids] = True
                seen[0, token] = True
            base = self.seen if self.seen is not None else torch.zeros(
                (len(self.rows) - 1, vocab), dtype=torch.bool, device=device)
            self.seen = torch.cat([base, seen])

    def keep(self, keep: list[int]) -> None:
        """Keep only the rows at `keep`; trim cache columns no remaining row uses."""
        if len(keep) == len(self.rows):
            return
        if not keep:
            self.rows, self.cache, self.mask, self.positions, self.last, self.seen = [], None, None, None, None, None
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.rows = [self.rows[i] for i in keep]
        self.mask, self.positions, self.last = self.mask[index], self.positions[index], self.last[index]
        start = int(self.mask.any(dim=0).nonzero()[0])
        self.mask = self.mask[:, start:]
        self.cache = DynamicCache([(k[index, :, start:], v[index, :, start:]) for k, v in _tensors(self.cache)])
        if self.seen is not None:
            self.seen = self.seen[index] if any(r.penalizes for r in self.rows) else None


def _tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _pad_left(tensor: torch.Tensor, length: int, dim: int = 2) -> torch.Tensor:
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class BatchedDecoder:
    name = "batched"

    def __init__(self, model: Any, device: str, max_batch: int, kv_tokens: int):
        self.model = model
        self.device = device
        self.max_batch = max_batch
        self.kv_tokens = kv_tokens
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
        self.vocab = model.config.get_text_config().vocab_size
        self._waiting: deque[_Row] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._batch = _Batch()
        self._thread: threading.Thread | None = None
        self.largest_batch = 0  # the most requests one step has decoded, for benchmarks and tests

    # --- the caller's side ---------------------------------------------------------------

    def tokens(self, prompt: Prompt, sampling: Sampling, cancel: Cancel, progress: Progress,
               budget: ThinkingBudget | None = None) -> Iterator[int]:
        if prompt.model_inputs:
            raise PlaygroundError("error.batched_text_only")
        row = _Row(prompt, RowSampler(sampling, self.model.device, budget), cancel, progress)
        with self._wake:
            if self._closed:
                raise PlaygroundError("error.model_unloaded")
            self._waiting.append(row)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="batched-decoder", daemon=True)
                self._thread.start()
            self._wake.notify()
        try:
            while True:
                try:
                    item = row.out.get(timeout=IDLE_WAIT_S)
                except queue.Empty:
                    if not self._thread.is_alive():
                        raise PlaygroundError("error.decoder_stopped") from None
                    continue
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        except GeneratorExit:
            cancel.set()  # the loop drops the row before its next step
            with self._wake:
                self._wake.notify()
            raise

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    # --- the loop's side -----------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._wake:
                    while not self._closed and not self._waiting and not self._batch.rows:
                        self._wake.wait()
                    if self._closed:
                        break
                self._drop_cancelled()
                self._admit()
                if self._batch.rows:
                    self._step()
        for row in [*self._batch.rows, *self._waiting]:
            row.end(Finish.CANCELLED)
        self._batch = _Batch()
        self._waiting.clear()

    def _drop_cancelled(self) -> None:
        with self._wake:
            for row in [r for r in self._waiting if r.cancel.is_set()]:
                self._waiting.remove(row)
                row.end(Finish.CANCELLED)
        keep = []
        for i, row in enumerate(self._batch.rows):
            if row.cancel.is_set():
                row.end(Finish.CANCELLED)
            else:
                keep.append(i)
        self._batch.keep(keep)

    def _admit(self) -> None:
        """Prefill waiting requests, oldest first, while the batch has room for them."""
        while True:
            with self._wake:
                if not self._waiting or len(self._batch.rows) >= self.max_batch:
                    return
                row = self._waiting[0]
                if self._batch.rows and self._batch.reserved_after(row) > self.kv_tokens:
                    return
                self._waiting.popleft()
            self._prefill(row)

    def _prefill(self, row: _Row) -> None:
        row.progress.started = time.perf_counter()
        try:
            cache = DynamicCache(config=self.model.config)
            out = self.model(input_ids=as_tensor(row.prompt.input_ids, self.model.device), past_key_values=cache,
                             use_cache=True, logits_to_keep=1)
            seen = None
            if row.penalizes:
                seen = torch.zeros((1, self.vocab), dtype=torch.bool, device=self.model.device)
                seen[0, row.prompt.input_ids] = True
            (token,) = sample(out.logits[:, -1, :], seen, [row.sampler])
        except Exception as exc:  # this request alone fails; the batch goes on
            row.fail(self._error(exc))
            return
        row.generated = 1
        row.out.put(token)
        if token in self.eos or row.remaining <= 0:
            row.end(Finish.STOP if token in self.eos else Finish.LENGTH)
            return
        self._batch.add(row, out.past_key_values, token, self.vocab)

    def _step(self) -> None:
        batch = self._batch
        self.largest_batch = max(self.largest_batch, len(batch.rows))
        try:
            mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.rows), 1))], dim=1)
            out = self.model(input_ids=batch.last.view(-1, 1), attention_mask=mask,
                             position_ids=batch.positions.view(-1, 1), past_key_values=batch.cache, use_cache=True,
                             logits_to_keep=1)
            tokens = sample(out.logits[:, -1, :], batch.seen, [row.sampler for row in batch.rows])
            batch.last = torch.tensor(tokens, device=batch.mask.device)
        except Exception as exc:  # every request in the batch fails; the loop goes on with new ones
            error = self._error(exc)
            for row in batch.rows:
                row.fail(error)
            self._batch = _Batch()
            return
        batch.cache, batch.mask = out.past_key_values, mask
        batch.positions = batch.positions + 1
        if batch.seen is not None:
            batch.seen[torch.arange(len(batch.rows), device=batch.last.device), batch.last] = True
        keep = []
        for i, (row, token) in enumerate(zip(batch.rows, tokens, strict=True)):
            row.generated += 1
            row.out.put(token)
            if token in self.eos:
                row.end(Finish.STOP)
            elif row.remaining <= 0:
                row.end(Finish.LENGTH)
            else:
                keep.append(i)
        batch.keep(keep)

    def _error(self, exc: Exception) -> PlaygroundError:
        if is_out_of_memory(exc):
            release_memory(self.device)
            error: PlaygroundError = OutOfMemory("load.oom_generating")
        else:
            log.exception("batched decoding failed")
            error = PlaygroundError("error.generation_failed", error=f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error
