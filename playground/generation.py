"""The one streaming path every tab uses to turn messages into a reply.

`Engine.stream(request)` holds the model through the registry, renders the prompt with the
model's own chat template, runs `model.generate` in a worker thread and yields events as
text arrives: `Thinking` and `Answer` deltas (split by `playground.thinking`), a `Notice`
when old turns were dropped to fit the context, and a final `Metrics`. A `Cancel` token tied
to the request is checked by a stopping criterion between tokens, so stopping halts the
model itself; closing the generator (a client that went away) cancels too. An error in the
worker is re-raised in the caller; nothing waits forever.

Sampling draws from a per-request `torch.Generator` (see `SeededSampler`), so a seed
reproduces a reply even while other users sample at the same time. Temperature 0 is greedy.

The engine knows nothing about Gradio or how a tab lays out what it yields.
"""

from __future__ import annotations

import copy
import resource
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    MinPLogitsWarper,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TextIteratorStreamer,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from playground.errors import OutOfMemory, PlaygroundError, PromptTooLongError
from playground.loading import is_out_of_memory, release_memory
from playground.memory import Precision
from playground.registry import Lease, Registry
from playground.thinking import OPEN, ThinkingSplitter

Message = dict[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    messages: Sequence[Message]
    max_new_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    thinking: bool | None = None  # None: the template's default; ignored by models that don't think
    precision: Precision | None = None


@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class Thinking:
    text: str


@dataclass(frozen=True)
class Notice:
    text: str


@dataclass(frozen=True)
class Metrics:
    model: str
    precision: Precision
    prompt_tokens: int
    tokens: int
    time_to_first_token_s: float | None
    seconds: float
    peak_memory: int
    stopped: bool

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        ttft = f"{self.time_to_first_token_s:.2f} s to first token · " if self.time_to_first_token_s else ""
        stopped = " · stopped" if self.stopped else ""
        return (
            f"{ttft}{self.tokens} tokens · {self.tokens_per_s:.1f} tok/s · {self.precision} · "
            f"peak {self.peak_memory / 1024**3:.2f} GiB{stopped}"
        )


Event = Answer | Thinking | Notice | Metrics


@dataclass
class Cancel:
    """Ties a request to whoever may stop it: set it to stop; read by the model between tokens.

    It also receives the request's final `Metrics`, because a caller that stopped listening
    (closed the stream) can no longer be yielded them.
    """

    event: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    def finish(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._done.set()

    def wait(self, timeout: float) -> Metrics | None:
        """The final metrics once the request has ended (None if it failed or is still running)."""
        self._done.wait(timeout)
        return self.metrics


class _StopOnCancel(StoppingCriteria):
    def __init__(self, cancel: Cancel):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)


class SeededSampler(LogitsProcessor):
    """Draws the next token from a request's own generator and leaves only it selectable.

    `generate` samples from torch's global generator, which every concurrent request shares,
    so a seed would not reproduce anything on a busy server. Run with `do_sample=False` and
    this processor last, the greedy step picks exactly the token drawn here.
    """

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float(), dim=-1)
        choice = torch.multinomial(probs.cpu(), 1, generator=self.generator).to(scores.device)
        picked = torch.full_like(scores, float("-inf"))
        return picked.scatter(1, choice, 0.0)


class _MeteredStreamer(TextIteratorStreamer):
    """Text streamer that also counts generated tokens and notes when the first arrived."""

    def __init__(self, tokenizer: Any, **kwargs: Any):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True, **kwargs)
        self.tokens = 0
        self.first_token_at: float | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self.next_tokens_are_prompt:
            self.tokens += value.numel()
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
        super().put(value)


def sampling_processors(request: GenerationRequest) -> LogitsProcessorList:
    """Warpers and the seeded draw; empty for greedy (temperature 0)."""
    if request.temperature <= 0:
        return LogitsProcessorList()
    generator = torch.Generator()
    if request.seed is None:
        generator.seed()
    else:
        generator.manual_seed(request.seed)
    warpers: list[LogitsProcessor] = [TemperatureLogitsWarper(request.temperature)]
    if request.top_k and request.top_k > 0:
        warpers.append(TopKLogitsWarper(request.top_k))
    if 0 < request.top_p < 1:
        warpers.append(TopPLogitsWarper(request.top_p))
    if request.min_p and request.min_p > 0:
        warpers.append(MinPLogitsWarper(request.min_p))
    return LogitsProcessorList([*warpers, SeededSampler(generator)])


def tokenizer_of(processor: Any) -> Any:
    """Vision models come with a processor that wraps the tokenizer."""
    return getattr(processor, "tokenizer", processor)


def render_prompt(processor: Any, messages: Sequence[Message], thinking: bool | None) -> str:
    """The model's own chat template, with the generation prompt."""
    kwargs = {} if thinking is None else {"enable_thinking": thinking}
    return processor.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True, **kwargs)


def fit_context(
    processor: Any, messages: Sequence[Message], thinking: bool | None, budget: int
) -> tuple[list[Message], str, int, int]:
    """Drop the oldest turns until the prompt fits `budget` tokens.

    System messages and the newest user message are always kept; earlier turns go
    oldest first, a user message together with the replies after it. Returns the kept
    messages, the prompt, its token count, and how many messages were dropped.
    """
    tokenizer = tokenizer_of(processor)
    system = [m for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    dropped = 0
    while True:
        kept = system + turns
        prompt = render_prompt(processor, kept, thinking)
        n = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if n <= budget:
            return kept, prompt, n, dropped
        # The newest message is the last one; drop whole earlier turns from the front.
        cut = next((i for i in range(1, len(turns)) if turns[i]["role"] == "user"), None)
        if cut is None or cut >= len(turns):
            raise PromptTooLongError(
                f"The message is {n} tokens with the template, but this model's context window "
                f"leaves room for {budget} tokens of prompt (after reserving the new tokens). "
                "Shorten the message or lower Max new tokens."
            )
        dropped += cut
        turns = turns[cut:]


class Engine:
    def __init__(self, registry: Registry, context_limit: int | None = None):
        self.registry = registry
        self.context_limit = context_limit  # cap on prompt + new tokens, below the model's own

    def stream(self, request: GenerationRequest, cancel: Cancel | None = None) -> Iterator[Event]:
        """Yield events for one reply. Raises `PlaygroundError` subclasses for user errors."""
        cancel = cancel or Cancel()
        if not any(m["role"] == "user" and str(m["content"]).strip() for m in request.messages):
            raise PlaygroundError("Type a message first: the request has no user message.")
        try:
            lease = self.registry.acquire(request.model, request.precision)
        except BaseException:
            cancel.finish(None)
            raise
        try:
            retried = False
            while True:
                emitted = False
                try:
                    for event in self._generate(lease, request, cancel):
                        emitted = True
                        yield event
                    return
                except OutOfMemory:
                    if retried or emitted:  # a retry after partial output would repeat it
                        raise
                    retried = True
                    lease = self.registry.step_down(lease)
                    yield Notice(f"Ran out of memory; reloaded {request.model} at {lease.precision} and retried.")
        finally:
            cancel.set()  # a closed generator leaves no worker running
            lease.release()
            if not cancel.ended:
                cancel.finish(None)

    def _generate(self, lease: Lease, request: GenerationRequest, cancel: Cancel) -> Iterator[Event]:
        spec, loaded = lease.spec, lease.loaded
        model, processor = loaded.model, loaded.processor
        thinking = request.thinking if spec.thinks else None
        limits = (spec.context_length, self.context_limit, model.config.get_text_config().max_position_embeddings)
        window = min(x for x in limits if x)
        budget = window - request.max_new_tokens
        if budget <= 0:
            raise PromptTooLongError(
                f"Max new tokens ({request.max_new_tokens}) is at least the context window ({window}). Lower it."
            )
        _, prompt, prompt_tokens, dropped = fit_context(processor, request.messages, thinking, budget)
        if dropped:
            yield Notice(f"Dropped the {dropped} oldest messages to fit the {window}-token context window.")

        tokenizer = tokenizer_of(processor)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        streamer = _MeteredStreamer(tokenizer)
        config = copy.deepcopy(model.generation_config)
        config.update(
            do_sample=False,  # sampling, if any, is SeededSampler's
            # Neutral values, not None: transformers 5 fills None from the model's own
            # generation_config and then warns that greedy decoding ignores them.
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            min_p=None,
            max_new_tokens=request.max_new_tokens,
            repetition_penalty=request.repetition_penalty,
        )
        failure: list[BaseException] = []
        cuda = loaded.device == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats()

        def work() -> None:
            try:
                with torch.inference_mode():
                    model.generate(
                        **inputs,
                        generation_config=config,
                        logits_processor=sampling_processors(request),
                        stopping_criteria=StoppingCriteriaList([_StopOnCancel(cancel)]),
                        streamer=streamer,
                    )
            except BaseException as exc:  # re-raised in the caller below
                failure.append(exc)
                streamer.end()

        start = time.perf_counter()
        worker = threading.Thread(target=work, name=f"generate-{spec.key}", daemon=True)
        worker.start()
        splitter = ThinkingSplitter(in_thinking=prompt.rstrip().endswith(OPEN))

        def metrics() -> Metrics:
            return Metrics(
                model=spec.key,
                precision=lease.precision,
                prompt_tokens=prompt_tokens,
                tokens=streamer.tokens,
                time_to_first_token_s=(streamer.first_token_at - start) if streamer.first_token_at else None,
                seconds=time.perf_counter() - start,
                peak_memory=torch.cuda.max_memory_allocated() if cuda else _peak_rss(),
                stopped=cancel.is_set(),
            )

        try:
            for chunk in streamer:
                yield from _split_events(splitter.feed(chunk))
            yield from _split_events(splitter.flush())
        except BaseException:  # the caller stopped listening: stop the model, not just the text
            cancel.set()
            worker.join()
            cancel.finish(None if failure else metrics())
            raise
        worker.join()
        if failure:
            exc = failure[0]
            if is_out_of_memory(exc):
                release_memory(loaded.device)
                raise OutOfMemory(f"{spec.key} ran out of memory while generating.") from exc
            raise PlaygroundError(f"Generation failed: {type(exc).__name__}: {exc}") from exc
        final = metrics()
        cancel.finish(final)
        yield final


def _split_events(deltas: tuple[str, str]) -> Iterator[Event]:
    thinking, answer = deltas
    if thinking:
        yield Thinking(thinking)
    if answer:
        yield Answer(answer)


def _peak_rss() -> int:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
