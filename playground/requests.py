"""The one request shape every tab, the API and every backend share, and the events a reply is made of.

A `Request` names a catalogue model and carries messages in the form transformers'
`apply_chat_template` takes: `{"role": ..., "content": str}` or content as a list of parts
(`{"type": "text", "text": ...}`, `{"type": "image", "image": ...}`, `{"type": "video", "video": ...}`).
`Sampling` is defined once, beside the catalogue whose presets are Samplings, and re-exported
here: catalogue presets, the UI's controls and the API all build it, and `LIMITS` holds the
valid range of each of its numbers.

What comes back is a stream of events: `Loading` while the model loads, `Thinking` and `Answer`
text as it arrives, `Notice`s (with a code and numbers, never a sentence), and one final
`Metrics`. A `Cancel` ties a request to whoever may stop it. Sentences for people are made by
the UI (`tabs/reply.py`); a request that cannot be served raises `InvalidRequestError` with a key
of `locales/en/request.toml` and its numbers. Nothing here knows about Gradio, torch or how a
backend decodes.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from playground.catalog import Precision, Sampling
from playground.errors import InvalidRequestError
from playground.i18n import Said

__all__ = [
    "Answer", "Cancel", "Event", "Finish", "InputLimits", "Loading", "Message", "Metrics", "Notice", "NoticeCode",
    "PromptText", "Request", "Sampling", "Thinking", "has_media", "message_text", "reply_share", "too_long",
]

Message = Mapping[str, Any]  # {"role": "system" | "user" | "assistant", "content": str | list of parts}


def message_text(message: Message) -> str:
    """The text of a message, with its text parts joined (images and videos contribute nothing)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def has_media(message: Message) -> bool:
    return media_count(message) > 0


def reply_share(window: int, max_new_tokens: int) -> int:
    """Tokens of the window kept for the reply: max new tokens, but at most half (so a long history still fits).

    The rest is the prompt's room; the backend fits the conversation into it, and the Vision tab counts
    images against it before sending.
    """
    return min(max_new_tokens, window // 2)


FIELD_OF_ROLE = {"system": "system prompt", "user": "message", "assistant": "reply"}
# How a sentence names each field, in the reader's language.
FIELD_WORDS = {"system prompt": "request.field_system", "message": "request.field_user",
               "reply": "request.field_assistant", "text": "request.field_text"}


def field_words(field_name: str) -> Said | str:
    """The field a sentence names ("system prompt", "message", "reply", "text"), as words yet to be said."""
    return Said(FIELD_WORDS[field_name]) if field_name in FIELD_WORDS else field_name


def _check_text(text: str, field_name: str) -> None:
    """`InvalidRequestError` for text that is not valid Unicode (a lone surrogate, as raw JSON can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError("request.not_text", field=field_words(field_name), position=exc.start,
                                  character=ascii(text[exc.start])) from None


@dataclass(frozen=True)
class InputLimits:
    """How much one request may carry, set by whoever runs the app (`Settings`); checked before any work."""

    message_chars: int = 100_000  # each user message (and a completion's text)
    system_chars: int = 20_000
    files: int = 10  # images and videos in one message

    @property
    def conversation_chars(self) -> int:
        """The whole conversation, replies included: ten messages' worth, more than any window holds."""
        return 10 * self.message_chars

    def check(self, messages: Sequence[Message]) -> None:
        """`InvalidRequestError` naming the field and the limit, for text or files past these limits."""
        total = 0
        for message in messages:
            text, role = message_text(message), message.get("role")
            total += len(text)
            limit = self.system_chars if role == "system" else self.message_chars if role == "user" else None
            if limit is not None and len(text) > limit:
                raise too_long(FIELD_OF_ROLE[role], len(text), limit)
            self.check_files(media_count(message))
        if total > self.conversation_chars:
            raise InvalidRequestError("request.conversation_too_long", length=total, limit=self.conversation_chars)

    def check_files(self, count: int) -> None:
        """`InvalidRequestError` for a message with more files than the app takes."""
        if count > self.files:
            raise InvalidRequestError("request.too_many_files", count=count, limit=self.files)


def too_long(field_name: str, length: int, limit: int) -> InvalidRequestError:
    """The error for a field ("message", "system prompt", "reply", "text") longer than its limit."""
    return InvalidRequestError("request.too_long", field=field_words(field_name), length=length, limit=limit)


def media_count(message: Message) -> int:
    content = message.get("content")
    if isinstance(content, str):
        return 0
    return sum(1 for part in content or () if isinstance(part, Mapping) and part.get("type") in ("image", "video"))


@dataclass(frozen=True)
class Written:
    """The start of a reply: its thinking and its answer so far. Thinking with no answer yet is still open."""

    thinking: str = ""
    answer: str = ""

    def text(self, opened_by_prompt: bool) -> str:
        """As the model wrote it, after a prompt that did or did not open `<think>` itself."""
        head = "" if opened_by_prompt else "<think>\n"
        if self.thinking and not self.answer:
            return head + self.thinking
        if self.thinking or opened_by_prompt:
            return f"{head}{self.thinking}\n</think>\n\n{self.answer}"
        return self.answer


@dataclass(frozen=True)
class Request:
    """One reply to generate. `thinking` None means the template's default (ignored by models that don't think)."""

    model: str
    messages: Sequence[Message]
    sampling: Sampling = field(default_factory=Sampling)
    thinking: bool | None = None
    precision: Precision | None = None
    thinking_budget: int | None = None  # at most this many thinking tokens (Qwen's recipe), None: no limit
    # The start of the reply, already written (by the model, plus what a tool added, e.g. a Python
    # block's output): the model goes on from its end, and events carry only what comes after it.
    continuation: Written | None = None
    # Raw text for the model to go on from, instead of `messages` through the chat template: fill in the
    # middle (`playground.tasks.code.fim_prompt`). The reply is all answer, whitespace included.
    completion: str | None = None
    # Who sent it (a browser session or API client; only ever logged as a salted hash), and the id its log
    # line and any error the person sees carry.
    client: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8], compare=False)

    def validated(self, limits: InputLimits | None = None) -> Request:
        """This request, or `InvalidRequestError` saying what is wrong with it (`limits`: how much it may carry)."""
        if limits is not None:
            limits.check(self.messages)
            if self.completion is not None and len(self.completion) > limits.message_chars:
                raise too_long("text", len(self.completion), limits.message_chars)
        if self.completion is not None:
            if not self.completion:
                raise InvalidRequestError("request.no_text")
        elif not any(m.get("role") == "user" and (message_text(m).strip() or has_media(m)) for m in self.messages):
            raise InvalidRequestError("request.no_message")
        for message in self.messages:
            if message.get("role") not in ("system", "user", "assistant"):
                raise InvalidRequestError("request.unknown_role", role=message.get("role"))
            _check_text(message_text(message), FIELD_OF_ROLE[message["role"]])
        if self.completion is not None:
            _check_text(self.completion, "text")
        self.sampling.validate()
        budget = self.thinking_budget
        if budget is not None:
            if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
                raise InvalidRequestError("request.budget_not_whole", value=budget)
            if budget >= self.sampling.max_new_tokens:
                raise InvalidRequestError("request.budget_too_large", budget=budget,
                                          max_new_tokens=self.sampling.max_new_tokens)
        return self

    def with_sampling(self, **changes: Any) -> Request:
        return replace(self, sampling=replace(self.sampling, **changes))


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class Thinking:
    text: str


@dataclass(frozen=True)
class Loading:
    """The request waits for its model to load: sent at once, then about twice a second until it is ready."""

    model: str
    precision: Precision | None  # None until the registry has chosen one
    bytes: int | None  # what the load was planned to take
    stage: str  # "starting", "download", "weights", "warm-up"
    progress: float | None  # fraction of the stage, where known
    seconds: float


@dataclass(frozen=True)
class PromptText:
    """The exact prompt the model received, special tokens and all, for a learner to inspect."""

    text: str
    tokens: int


class NoticeCode(StrEnum):
    DROPPED_TURNS = "dropped_turns"  # params: dropped (messages), window (tokens)
    OOM_RETRY = "oom_retry"  # params: model, precision (the one retried at)
    SAMPLING_LEFT_OUT = "sampling_left_out"  # params: fields (names a remote server refused), server (its URL)


@dataclass(frozen=True)
class Notice:
    code: NoticeCode
    params: Mapping[str, Any] = field(default_factory=dict)


class Finish(StrEnum):
    STOP = "stop"  # the model ended its turn
    LENGTH = "length"  # max new tokens reached
    CANCELLED = "cancelled"  # someone pressed Stop or went away


@dataclass(frozen=True)
class Metrics:
    """Figures of one finished reply, as numbers. Times are seconds from when the request arrived."""

    model: str
    precision: Precision | None  # None: the model runs on another server, at whatever precision it chose
    backend: str  # "serial", "batched" or "remote"
    thinking: bool | None  # the mode asked for; None for a model that does not think
    window: int  # the context window the prompt and reply had to fit in
    prompt_tokens: int
    tokens: int  # generated, thinking included
    thinking_tokens: int
    thinking_cut: bool  # the thinking budget cut the thinking short
    queued_s: float  # waiting for a free slot before decoding began
    time_to_first_token_s: float | None
    seconds: float
    peak_memory: int | None  # bytes: the device's peak (the process's on CPU); None where unknown
    finish: Finish

    @property
    def stopped(self) -> bool:
        return self.finish is Finish.CANCELLED

    @property
    def answer_tokens(self) -> int:
        return self.tokens - self.thinking_tokens

    @property
    def out_of_tokens_thinking(self) -> bool:
        """Max new tokens ran out before the thinking ended: there is no answer."""
        return self.finish is Finish.LENGTH and self.thinking_tokens >= self.tokens

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of generating (queueing excluded)."""
        busy = self.seconds - self.queued_s
        return self.tokens / busy if busy > 0 else 0.0


Event = Answer | Thinking | Loading | PromptText | Notice | Metrics


class Cancel:
    """Ties a request to whoever may stop it: `set()` stops it; the backend checks between tokens.

    It also receives the request's final `Metrics`, because a caller that stopped listening
    (closed the stream) can no longer be yielded them.
    """

    def __init__(self, parent: Cancel | None = None) -> None:
        self._event = threading.Event()
        self._done = threading.Event()
        self._parent = parent
        self.metrics: Metrics | None = None

    def child(self) -> Cancel:
        """A Cancel for one step of a longer job: set when this one is, and settable on its own."""
        return Cancel(parent=self)

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or (self._parent is not None and self._parent.is_set())

    def wait_set(self, timeout: float) -> bool:
        if self._parent is None:
            return self._event.wait(timeout)
        deadline = time.monotonic() + timeout
        while not self.is_set() and (left := deadline - time.monotonic()) > 0:
            self._event.wait(min(left, 0.05))
        return self.is_set()

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


def sampling_from(values: Mapping[str, Any], base: Sampling | None = None) -> Sampling:
    """A `Sampling` from loosely typed values (UI widgets, API JSON); unknown names are ignored.

    Numbers arrive as floats from sliders and number boxes; whole-number fields must really be
    whole. `seed` -1 or None means a fresh random seed.
    """
    base = base or Sampling()
    changes: dict[str, Any] = {}
    for f in fields(Sampling):
        if f.name not in values or values[f.name] is None:
            continue
        value = values[f.name]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidRequestError("request.not_a_number", name=f.name, value=value) from None
        if f.name in ("top_k", "max_new_tokens", "seed"):
            if not math.isfinite(number) or number != int(number):
                raise InvalidRequestError("request.not_whole", name=f.name, value=value)
            number = int(number)
        if f.name == "seed" and number < 0:
            number = None
        changes[f.name] = number
    return replace(base, **changes)
