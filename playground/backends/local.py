"""The backend for a model loaded in this process: prompt, token decoding, thinking split and metrics.

`LocalBackend.stream(request, cancel)` renders the prompt (`backends.prompt`), hands it to a
`Decoder` that produces token ids (`SerialDecoder`: one `generate` per request; `BatchedDecoder`:
many requests in one batch), turns the ids into text as they come (`Detokenizer`), splits thinking
from the answer (`playground.tasks.thinking`) and ends with `Metrics`. The decoders differ only in how
they schedule the model; everything a user sees is made here, once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from playground.backends.prompt import Prompt, build_prompt, continued, grid_of, tokenizer_of
from playground.catalog import ModelSpec, Precision, Sampling
from playground.errors import PromptTooLongError
from playground.memory import peak_used
from playground.requests import (
    Answer,
    Cancel,
    Event,
    Finish,
    Metrics,
    Notice,
    NoticeCode,
    PromptText,
    Request,
    Thinking,
    reply_share,
)
from playground.tasks.code import FIM_TOKENS, check_fim_tokens
from playground.tasks.thinking import CLOSE, EARLY_STOP, OPEN, ThinkingBudget, ThinkingSplitter


@dataclass
class Progress:
    """What a decoder reports about one request besides its tokens."""

    started: float | None = None  # perf_counter() when decoding began (after any wait for a slot)
    finish: Finish | None = None


class Decoder(Protocol):
    name: str  # "serial" or "batched", shown in metrics

    def tokens(self, prompt: Prompt, sampling: Sampling, cancel: Cancel, progress: Progress,
               budget: ThinkingBudget | None = None) -> Iterator[int]:
        """Generated token ids, end-of-turn token included, until the end of turn, max_new_tokens or `cancel`.

        `budget`, if given, writes its tokens where it cuts the thinking (see `backends.sampler`).
        Closing the iterator stops the request. Raises `OutOfMemory` or `PlaygroundError` on failure.
        """
        ...

    def close(self) -> None:
        """Stop serving; requests in flight end as cancelled."""
        ...


class Detokenizer:
    """Turns token ids into text incrementally, holding back bytes that do not make a character yet.

    Decodes a short window of recent ids rather than the whole reply, so each token costs O(1);
    the concatenated pieces equal `decode(all ids)` for byte-level BPE tokenizers like Qwen's.
    """

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self._prefix = 0  # start of the window that gives the next piece its context
        self._read = 0  # ids up to here have been turned into text

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def add(self, token: int) -> str:
        self.ids.append(token)
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""  # an incomplete character (or a special token): wait for more
        self._prefix, self._read = self._read, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        self._prefix = self._read = len(self.ids)
        return after[len(before) :]


class LocalBackend:
    """Serves one loaded model (at one precision) through `decoder`."""

    def __init__(
        self,
        spec: ModelSpec,
        precision: Precision,
        model: Any,
        processor: Any,
        decoder: Decoder,
        device: str,
        context_limit: int | None = None,
    ):
        self.spec, self.precision = spec, precision
        self.model, self.processor, self.decoder = model, processor, decoder
        self.device = device
        self.context_limit = context_limit
        self.tokenizer = tokenizer_of(processor)
        self.grid = grid_of(processor) if spec.is_vision else None  # how images become tokens

    @property
    def name(self) -> str:
        return self.decoder.name

    def window(self) -> int:
        """Prompt + reply tokens: the smallest of the catalogue's, the settings' and the model config's."""
        config = self.model.config.get_text_config().max_position_embeddings if self.model is not None else None
        return min(x for x in (self.spec.context_length, self.context_limit, config) if x)

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Events of one reply; `cancel` receives the final metrics, also when the caller stops listening."""
        arrived = time.perf_counter()
        window = self.window()
        # The reply may use what the window leaves after the prompt, up to max new tokens; to fit a
        # long history, at most half the window is kept for the reply.
        room = window - reply_share(window, request.sampling.max_new_tokens)
        switch = request.thinking if self.spec.hybrid else None  # what the template is told
        thinking = switch if self.spec.hybrid else (True if self.spec.thinks else None)
        if request.completion is not None:  # raw text to go on from (fill in the middle): no template, no thinking
            if FIM_TOKENS[0] in request.completion:
                check_fim_tokens(self.tokenizer, self.spec.key)
            prompt = Prompt(self.tokenizer.encode(request.completion, add_special_tokens=False))
            splitter, thinking = ThinkingSplitter(plain=True), None
        else:
            prompt = build_prompt(self.processor, request.messages, switch, room, self.grid)
            splitter = ThinkingSplitter(in_thinking=prompt.opens_thinking)
        if request.continuation is not None:
            written = request.continuation.text(opened_by_prompt=prompt.opens_thinking)
            splitter.skip(written)
            prompt = continued(prompt, self.tokenizer.encode(written, add_special_tokens=False), splitter.in_thinking)
        yield PromptText(self.tokenizer.decode(prompt.input_ids, skip_special_tokens=False), prompt.tokens)
        if prompt.dropped:
            yield Notice(NoticeCode.DROPPED_TURNS, {"dropped": prompt.dropped, "window": window})
        if prompt.tokens >= window:  # build_prompt fits the messages; a continuation or raw text may not fit
            raise PromptTooLongError("prompt.too_long", tokens=prompt.tokens, window=window)
        sampling = replace(request.sampling,
                           max_new_tokens=min(request.sampling.max_new_tokens, window - prompt.tokens))

        budget = self._budget(request, thinking, prompt)
        progress = Progress()
        detokenizer = Detokenizer(self.tokenizer)
        tokens = thinking_tokens = 0
        first_at: float | None = None

        def metrics() -> Metrics:
            now = time.perf_counter()
            started = progress.started or now
            return Metrics(
                model=self.spec.key,
                precision=self.precision,
                backend=self.decoder.name,
                thinking=thinking,
                window=window,
                prompt_tokens=prompt.tokens,
                tokens=tokens,
                thinking_tokens=thinking_tokens,
                thinking_cut=budget is not None and budget.cut,
                queued_s=started - arrived,
                time_to_first_token_s=None if first_at is None else first_at - arrived,
                seconds=now - arrived,
                peak_memory=self._peak_memory(),
                finish=Finish.CANCELLED if cancel.is_set() else (progress.finish or Finish.STOP),
            )

        ids = self.decoder.tokens(prompt, sampling, cancel, progress, budget)
        try:
            for token in ids:
                tokens += 1
                if first_at is None:
                    first_at = time.perf_counter()
                was_answering = splitter.finished
                deltas = splitter.feed(detokenizer.add(token))
                if splitter.saw_block and not was_answering:  # <think>, thinking and </think> itself
                    thinking_tokens += 1
                yield from _events(deltas)
            yield from _events(splitter.feed(detokenizer.flush()))
            yield from _events(splitter.flush())
        except GeneratorExit:  # the caller stopped listening: stop the model, not just the text
            cancel.set()
            ids.close()
            cancel.finish(metrics())
            raise
        final = metrics()
        cancel.finish(final)
        yield final

    def _budget(self, request: Request, thinking: bool | None, prompt: Prompt) -> ThinkingBudget | None:
        """The request's thinking budget, where the model thinks this time and has thinking tags."""
        thinks = self.spec.thinks and (not self.spec.hybrid or thinking is not False)
        if request.thinking_budget is None or not thinks:
            return None
        open_id, close_id = self.tokenizer.convert_tokens_to_ids([OPEN, CLOSE])
        if self.tokenizer.unk_token_id in (open_id, close_id) or None in (open_id, close_id):
            return None
        stop_ids = self.tokenizer.encode(EARLY_STOP, add_special_tokens=False)
        return ThinkingBudget(request.thinking_budget, open_id, close_id, stop_ids, thinking=prompt.opens_thinking)

    def _peak_memory(self) -> int | None:
        return peak_used(self.device)

    def close(self) -> None:
        self.decoder.close()


def _events(deltas: tuple[str, str]) -> Iterator[Event]:
    thinking, answer = deltas
    if thinking:
        yield Thinking(thinking)
    if answer:
        yield Answer(answer)
