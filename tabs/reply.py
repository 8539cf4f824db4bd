"""The shared reply UI: engine events become chat messages, Stop reaches the right reply, sampling controls.

Every tab that streams a model's reply uses this module, so a reply looks and behaves the same
everywhere:

- `stream_reply` runs a request through the engine and yields the chat messages that show it
  so far: a thinking block (open with a spinner while the model thinks, folded with its duration
  once the answer starts), the answer, and a metrics line; a problem ends the reply with an error
  message instead of an exception. Updates are throttled to what a person can see.
- `Stops` keys each running reply by (browser session, slot), so a tab with two columns can stop
  either or both, and `stop_reply` adds the stopped reply's metrics line.
- `SamplingControls` are the sliders for `Sampling`, built from its fields and ranges, set to a
  model's preset.
- `metrics_text` and `notice_text` are where numbers and notice codes become words, in the
  reader's language (`language`: a code of `playground.i18n`; None is English); `output_text` says
  why the sandbox stopped a block of code in it (the model reads that in English).
- `bound` makes a handler that Gradio hands its request to, with the tab's services given.
"""

from __future__ import annotations

import functools
import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, fields, replace
from typing import Any

import gradio as gr

from playground.catalog import LIMITS, Catalog, ModelSpec, Sampling
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.i18n import Said, say
from playground.memory import format_bytes
from playground.requests import (
    Answer,
    Cancel,
    Loading,
    Metrics,
    Notice,
    NoticeCode,
    PromptText,
    Request,
    Thinking,
    sampling_from,
)
from playground.snippets import Ran
from playground.tasks.tir import ToolCall, output_block
from tabs.i18n import t
from tabs.last_request import LAST

log = logging.getLogger(__name__)

# Display-only messages: never sent back to the model.
METRICS_ID = "metrics"
ERROR_ID = "error"
NOTICE_ID = "notice"
LOADING_ID = "loading"
UPDATE_INTERVAL_S = 0.05  # at most 20 updates a second: each costs Gradio a diff and a message
STOP_WAIT_S = 10.0  # the model stops within a token; this only bounds a stuck worker

LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "\\[", "right": "\\]", "display": True},
]


# --- words for numbers and codes -----------------------------------------------------------

STAGES = {"starting": "reply.stage_starting", "download": "reply.stage_download", "weights": "reply.stage_weights",
          "warm-up": "reply.stage_warm_up"}


def thinking_title(language: str | None = None) -> str:
    return say(language, "reply.thinking_title")


def metrics_text(metrics: Metrics, loaded_s: float | None = None, language: str | None = None) -> str:
    def said(key: str, **params: Any) -> str:
        return say(language, key, **params)

    parts = [metrics.model, str(metrics.precision) if metrics.precision else said("reply.remote")]
    if metrics.thinking is not None:
        parts.append(said("reply.thinking_on" if metrics.thinking else "reply.thinking_off"))
    if metrics.thinking_cut:
        parts.append(said("reply.budget_reached"))
    if loaded_s is not None:
        parts.append(said("reply.loaded_in", seconds=loaded_s))
    if metrics.time_to_first_token_s is not None:
        parts.append(said("reply.first_token", seconds=metrics.time_to_first_token_s))
    parts += [said("reply.tokens", tokens=metrics.tokens), said("reply.tokens_per_s", rate=metrics.tokens_per_s)]
    if metrics.queued_s >= 0.5:
        parts.append(said("reply.waited", seconds=metrics.queued_s))
    if metrics.peak_memory:
        parts.append(said("reply.peak", size=format_bytes(metrics.peak_memory)))
    if metrics.stopped:
        parts.append(said("reply.stopped"))
    return said("reply.separator").join(parts)


def loading_text(loading: Loading, language: str | None = None) -> str:
    parts = [str(loading.precision)] if loading.precision else []
    if loading.bytes:
        parts.append(say(language, "reply.about", size=format_bytes(loading.bytes)))
    stage = say(language, STAGES[loading.stage]) if loading.stage in STAGES else loading.stage
    parts.append(say(language, "reply.stage_progress", stage=stage, progress=loading.progress)
                 if loading.progress is not None else say(language, "reply.stage_waiting", stage=stage))
    parts.append(say(language, "reply.seconds", seconds=loading.seconds))
    return say(language, "reply.separator").join(parts)


NOTICES = {NoticeCode.DROPPED_TURNS: "reply.dropped_turns", NoticeCode.OOM_RETRY: "reply.oom_retry",
           NoticeCode.SAMPLING_LEFT_OUT: "reply.sampling_left_out"}


def notice_text(notice: Notice, language: str | None = None) -> str:
    params = dict(notice.params)
    if notice.code is NoticeCode.SAMPLING_LEFT_OUT:
        params["fields"] = say(language, "common.list_separator").join(params["fields"])
    return say(language, NOTICES[notice.code], **params)


def out_of_tokens_text(metrics: Metrics, language: str | None = None) -> str:
    return say(language, "reply.out_of_tokens", tokens=metrics.tokens)


def larger_limit(metrics: Metrics) -> int:
    """A max-new-tokens worth retrying with: four times as many, within what the window leaves."""
    room = metrics.window - metrics.prompt_tokens if metrics.window else metrics.tokens * 4  # 0: window unknown
    return max(min(metrics.tokens * 4, room), metrics.tokens)


# Values of the options offered under a reply that ran out of tokens while thinking.
RETRY_LARGER = "retry-larger"
RETRY_NO_THINKING = "retry-no-thinking"


# --- messages --------------------------------------------------------------------------------


def metrics_message(metrics: Metrics, loaded_s: float | None = None, language: str | None = None) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content=f"<sub>{metrics_text(metrics, loaded_s, language)}</sub>",
                          metadata={"id": METRICS_ID})


def output_text(output: str, said: Said | None, language: str | None = None) -> str:
    """Code's output as a person reads it: where the sandbox stopped the code, its reason in `language` (the
    output ends with it in English, after Python's error name, for the model, which still reads it so)."""
    if said is None:
        return output
    head, english, tail = output.rpartition(str(said))
    return f"{head}{said.text(language)}{tail}" if english else output


def call_message(call: ToolCall, language: str | None = None) -> gr.ChatMessage:
    """A Python block the app ran, folded: its code, then its output (why the sandbox stopped it in `language`)."""
    title = say(language, "reply.python_block" if call.ok else "reply.python_failed", number=call.number)
    output = output_text(call.output, call.said, language).rstrip() or say(language, "reply.nothing_printed")
    content = f"```python\n{call.code}\n```\n\n**{say(language, 'reply.output')}**\n\n```\n{output}\n```"
    return gr.ChatMessage(role="assistant", content=content,
                          metadata={"title": title, "status": "done", "duration": round(call.seconds, 2)})


def error_message(text: str) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content=f"⚠️ {text}", metadata={"id": ERROR_ID})


def notice_message(text: str, options: list[dict[str, str]] | None = None) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content=f"ℹ️ {text}", metadata={"id": NOTICE_ID}, options=options or [])


def is_display_only(message: dict[str, Any]) -> bool:
    """Thinking and loading blocks, notices, metrics lines and errors are shown, never sent back to the model."""
    metadata = message.get("metadata") or {}
    return bool(metadata.get("title")) or metadata.get("id") in (METRICS_ID, ERROR_ID, NOTICE_ID)


@dataclass
class ReplyView:
    """One reply as it streams in; `messages()` renders it. Fresh objects each time: Gradio streams diffs."""

    thinking: str = ""
    answer: str = ""
    metrics: Metrics | None = None
    thought_s: float | None = None  # how long the model thought, once the answer begins
    error: str | None = None
    loading: Loading | None = None  # while the model loads
    loaded_s: float | None = None  # how long it took, once it did
    notices: list[str] = field(default_factory=list)  # said in `language`
    dropped: int = 0  # the oldest messages left out to fit the window
    prompt: PromptText | None = None  # what the model received, for inspectors
    calls: list[tuple[int, ToolCall]] = field(default_factory=list)  # Python blocks run, at their place in the answer
    language: str | None = None  # the reader's (`playground.i18n`); None: English

    def add_call(self, call: ToolCall) -> None:
        """A block the app ran: shown folded with its output where it was (the block's text leaves the answer); in
        the thinking, its output follows it (the sandbox's reason for stopping it in the reader's language)."""
        if call.in_thinking:
            self.thinking += output_block(output_text(call.output, call.said, self.language))
            return
        start = self.answer.rfind("```python")
        if start >= 0:
            self.answer = self.answer[:start].rstrip() + "\n"
        self.calls.append((len(self.answer), call))

    def meter(self) -> str | None:
        """How much of the context window the conversation now uses, once the reply has ended."""
        m = self.metrics
        if m is None or not m.window:  # a remote model whose window the catalogue does not give
            return None
        used = m.prompt_tokens + m.tokens
        return say(self.language, "reply.meter", used=used, window=m.window, share=used / m.window)

    def messages(self) -> list[gr.ChatMessage]:
        language = self.language
        messages = [notice_message(text) for text in self.notices]
        if self.loading is not None:
            title = say(language, "reply.loading_title", model=self.loading.model)
            messages.append(gr.ChatMessage(role="assistant", content=loading_text(self.loading, language),
                                           metadata={"title": title, "status": "pending", "id": LOADING_ID}))
        if self.thinking:
            done = bool(self.answer) or self.metrics is not None or self.error is not None
            metadata: dict[str, Any] = {"title": thinking_title(language), "status": "done" if done else "pending"}
            if self.thought_s is not None:
                metadata["duration"] = round(self.thought_s, 1)
            messages.append(gr.ChatMessage(role="assistant", content=self.thinking, metadata=metadata))
        shown = 0
        for at, call in self.calls:
            if self.answer[shown:at].strip():
                messages.append(gr.ChatMessage(role="assistant", content=self.answer[shown:at]))
            messages.append(call_message(call, language))
            shown = at
        if self.answer[shown:].strip():
            messages.append(gr.ChatMessage(role="assistant", content=self.answer[shown:]))
        if self.metrics is not None:
            messages.append(metrics_message(self.metrics, self.loaded_s, language))
        if self.metrics is not None and self.metrics.out_of_tokens_thinking:
            # Last, because the chat shows a message's options (as buttons) only under its last message.
            larger = larger_limit(self.metrics)
            options = [
                {"value": f"{RETRY_LARGER}:{larger}", "label": say(language, "reply.retry_larger", tokens=larger)},
                {"value": RETRY_NO_THINKING, "label": say(language, "reply.retry_no_thinking")},
            ]
            messages.append(notice_message(out_of_tokens_text(self.metrics, language), options))
        if self.error is not None:
            messages.append(error_message(self.error))
        return messages


# --- streaming and stopping ------------------------------------------------------------------


class Stops:
    """The reply each (browser session, slot) is streaming, so a Stop button can reach it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], Cancel] = {}

    def start(self, key: tuple[str, str]) -> Cancel:
        cancel = Cancel()
        with self._lock:
            self._running[key] = cancel
        return cancel

    def end(self, key: tuple[str, str], cancel: Cancel) -> None:
        with self._lock:
            if self._running.get(key) is cancel:
                del self._running[key]

    def stop(self, key: tuple[str, str]) -> Cancel | None:
        with self._lock:
            cancel = self._running.pop(key, None)
        if cancel is not None:
            cancel.set()
        return cancel


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def bound(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """`fn` with its first arguments given (a tab's services), as a handler Gradio hands its request to.

    Gradio gives a handler its `gr.Request` only through a positional parameter type-hinted as one, and it
    finds no hints on a `functools.partial`: called through one, every visitor would be the one "default"
    session (one Stop would stop everyone's replies) and would read English. The handler has `fn`'s other
    parameters, so an API endpoint keeps their names; a `request` after `*values` (keyword-only, which Gradio
    passes over) becomes the handler's first parameter.
    """
    signature = inspect.signature(functools.partial(fn, *args))
    request = signature.parameters.get("request")
    first = request is not None and request.kind is inspect.Parameter.KEYWORD_ONLY
    if first:
        rest = [p for p in signature.parameters.values() if p.name != "request"]
        signature = signature.replace(parameters=[
            request.replace(kind=inspect.Parameter.POSITIONAL_ONLY, default=inspect.Parameter.empty), *rest])

    def call(*given: Any, **kwargs: Any) -> Any:
        if first:
            kwargs["request"], *given = given  # type: ignore[assignment]
        return fn(*args, *given, **kwargs)

    if inspect.isgeneratorfunction(fn):  # Gradio streams what a generator function yields
        def handler(*given: Any, **kwargs: Any) -> Any:
            yield from call(*given, **kwargs)
    else:
        def handler(*given: Any, **kwargs: Any) -> Any:
            return call(*given, **kwargs)
    functools.update_wrapper(handler, fn)  # fn's name and type hints (read in fn's module)
    handler.__signature__ = signature  # type: ignore[attr-defined]
    return handler


Run = Callable[[Request, Cancel], Iterator[Any]]  # a reply's events: `Engine.stream`, or a task's loop around it


def unexpected_error_text(reference: str, language: str | None = None) -> str:
    return say(language, "reply.unexpected", reference=reference)


def stream_reply(engine: Engine, request: Request, stops: Stops, key: tuple[str, str],
                 run: Run | None = None, language: str | None = None) -> Iterator[ReplyView]:
    """The reply so far, as it streams (`.messages()` shows it, in `language`); the last yield is the whole reply.

    `run` makes the events (default `engine.stream`); a task's loop may add `ToolCall`s to them.
    """
    view = ReplyView(language=language)
    request = request if request.client else replace(request, client=key[0])  # for the request log
    cancel = stops.start(key)
    LAST.record(key, request, Ran(tool_loop=run is not None))  # for Copy as code; how it ran comes with its metrics
    shown_at = 0.0
    thinking_since: float | None = None
    try:
        with closing((run or engine.stream)(request, cancel)) as events:
            for event in events:
                if isinstance(event, Loading):
                    view.loading = event
                    yield view  # shown at once: the wait has a reason
                    continue
                if view.loading is not None:  # the first event after the load
                    view.loaded_s, view.loading = view.loading.seconds, None
                if isinstance(event, Thinking):
                    view.thinking += event.text
                    thinking_since = thinking_since or time.monotonic()
                elif isinstance(event, Answer):
                    view.answer += event.text
                    if thinking_since is not None and view.thought_s is None:
                        view.thought_s = time.monotonic() - thinking_since
                elif isinstance(event, Metrics):
                    view.metrics = event
                    LAST.record(key, request, Ran(event.precision, dropped=view.dropped, tool_loop=run is not None))
                    if thinking_since is not None and view.thought_s is None:  # it thought to the end
                        view.thought_s = time.monotonic() - thinking_since
                elif isinstance(event, Notice):
                    view.notices.append(notice_text(event, language))
                    if event.code is NoticeCode.DROPPED_TURNS:
                        view.dropped = event.params["dropped"]
                elif isinstance(event, PromptText):
                    view.prompt = event
                    continue
                elif isinstance(event, ToolCall):
                    view.add_call(event)
                now = time.monotonic()
                if view.metrics is None and now - shown_at < UPDATE_INTERVAL_S:
                    continue
                shown_at = now
                yield view
    except PlaygroundError as exc:
        view.error, view.loading = exc.text(language), None
        yield view
    except Exception:  # a bug: the person gets an id to quote, the log gets the traceback under that id
        reference = request.id
        log.exception("request %s (model %s) failed", reference, request.model)
        view.error, view.loading = unexpected_error_text(reference, language), None
        yield view
    finally:
        stops.end(key, cancel)
    if view.loading is not None:  # stopped before the model was ready
        view.loading = None
        view.notices.append(say(language, "reply.stopped_loading"))
        yield view


@dataclass
class Replies:
    """Several replies streaming at once (the Thinking tab's columns, the Math tab's samples)."""

    views: dict[str, ReplyView]
    done: set[str] = field(default_factory=set)

    @property
    def finished(self) -> bool:
        return self.done == set(self.views)


def stream_many(engine: Engine, requests: Mapping[str, Request | str], stops: Stops, session: str, slot: str,
                run: Run | None = None, language: str | None = None) -> Iterator[Replies]:
    """Run the requests at once (a string instead of a request: why that one cannot run, shown as its error);
    yield them all as they grow, at most 20 times a second, then once all have ended.

    Each streams under the Stop key `many_key(session, slot, name)`; leaving early stops them all.
    """
    state = Replies({name: ReplyView(language=language) for name in requests})
    updates: queue.Queue[tuple[str, ReplyView | None]] = queue.Queue()

    def one(name: str, request: Request) -> None:
        try:
            for view in stream_reply(engine, request, stops, many_key(session, slot, name), run, language):
                updates.put((name, view))
        finally:
            updates.put((name, None))

    for name, request in requests.items():
        if isinstance(request, str):
            state.views[name].error = request
            state.done.add(name)
        else:
            threading.Thread(target=one, args=(name, request), name=f"reply-{name}", daemon=True).start()
    last_shown = 0.0
    try:
        yield state
        while not state.finished:
            name, view = updates.get()
            if view is None:
                state.done.add(name)
            else:
                state.views[name] = view
            now = time.monotonic()
            if state.finished or now - last_shown >= UPDATE_INTERVAL_S:
                last_shown = now
                yield state
    finally:
        stop_many(stops, session, slot, requests)  # a caller that went away stops them all


def many_key(session: str, slot: str, name: str) -> tuple[str, str]:
    return session, f"{slot}-{name}"


def stop_many(stops: Stops, session: str, slot: str, names: Iterable[str]) -> None:
    for name in names:
        stops.stop(many_key(session, slot, name))


def stop_reply(stops: Stops, key: tuple[str, str], shown: list[dict[str, Any]], language: str | None = None) -> Any:
    """Stop the reply at `key` and add its metrics line to `shown`, which the cancelled stream cannot."""
    cancel = stops.stop(key)
    if cancel is None:
        return gr.skip()
    metrics = cancel.wait(timeout=STOP_WAIT_S)
    shown = [m for m in shown if not ((m.get("metadata") or {}).get("status") == "pending"
                                      and (m.get("metadata") or {}).get("id") == LOADING_ID)]
    if metrics is None or (shown and (shown[-1].get("metadata") or {}).get("id") == METRICS_ID):
        return shown
    return [*shown, metrics_message(metrics, language=language)]


# --- sampling controls -----------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    label: str  # message keys
    info: str | None
    step: float
    low: float
    high: float  # the slider's end; the valid range (`LIMITS`) may go further


CONTROLS = {
    "temperature": Control("reply.temperature", "reply.temperature_info", 0.05, 0, LIMITS["temperature"].high),
    "top_p": Control("reply.top_p", None, 0.01, 0.01, 1),
    "top_k": Control("reply.top_k", "reply.top_k_info", 1, 0, 200),
    "min_p": Control("reply.min_p", "reply.min_p_info", 0.01, 0, 1),
    "repetition_penalty": Control("reply.repetition_penalty", "reply.repetition_penalty_info", 0.01, 1,
                                  LIMITS["repetition_penalty"].high),
}
MAX_TOKENS_STEP = 256  # the number box's arrows; any whole number can be typed


PRESET_FIELDS = tuple(f.name for f in fields(Sampling) if f.name not in ("seed", "max_new_tokens"))


def preset_sliders(preset: Sampling, render: bool = True) -> list[gr.Slider]:
    """Sliders for the numbers a model's preset sets (temperature, top-p, top-k, min-p, repetition penalty)."""
    sliders = []
    for name in PRESET_FIELDS:
        c = CONTROLS[name]
        sliders.append(gr.Slider(c.low, c.high, value=getattr(preset, name), step=c.step, label=t(c.label),
                                 info=t(c.info) if c.info else None, render=render))
    return sliders


@dataclass(frozen=True)
class SamplingControls:
    """One component per `Sampling` field, in field order (the seed last, as a number box)."""

    components: tuple[gr.components.Component, ...]

    @staticmethod
    def build(preset: Sampling, max_tokens: int | None = None, info: Any = None,
              render: bool = True) -> SamplingControls:
        """Sliders for the preset's numbers; max new tokens as a number box bounded by the model's window."""
        components = []
        sliders = iter(preset_sliders(preset, render))
        for f in fields(Sampling):
            if f.name in PRESET_FIELDS:
                components.append(next(sliders))
                continue
            if f.name == "seed":
                components.append(gr.Number(value=-1, precision=0, label=t("reply.seed"), info=t("reply.seed_info"),
                                            render=render))
                continue
            value = min(preset.max_new_tokens, max_tokens) if max_tokens else preset.max_new_tokens
            components.append(gr.Number(value=value, precision=0, minimum=1, maximum=max_tokens,
                                        step=MAX_TOKENS_STEP, label=t("reply.max_new_tokens"), info=info, render=render,
                                        elem_id="max-new-tokens"))
        return SamplingControls(tuple(components))

    @property
    def preset_components(self) -> tuple[gr.components.Component, ...]:
        """The sliders a model's preset sets (all but max new tokens and the seed, which are the user's)."""
        return tuple(c for c, f in zip(self.components, fields(Sampling), strict=True)
                     if f.name not in ("seed", "max_new_tokens"))

    def render(self) -> None:
        for component in self.components:
            component.render()


def preset_values(spec: ModelSpec, thinking: bool) -> tuple[float, ...]:
    """Values for `SamplingControls.preset_components`: the model's recommended preset for the mode."""
    preset = spec.sampling_for(thinking and spec.thinks)
    return tuple(getattr(preset, name) for name in PRESET_FIELDS)


def preset_updates(spec: ModelSpec, thinking: bool, touched: list[str]) -> list[Any]:
    """The preset's values for the controls the user has not touched; the touched ones stay (a skip)."""
    return [gr.skip() if name in touched else value
            for name, value in zip(PRESET_FIELDS, preset_values(spec, thinking), strict=True)]


def follow(catalog: Catalog, model: str, thinking: bool, touched: list[str],
           language: str | None = None) -> tuple[Any, ...]:
    """After a model or mode changes: the thinking switch (hybrid models only), the line said instead of it,
    and the preset's values for the sliders the user left alone."""
    spec = catalog.get(model)
    thinking = thinking if spec.hybrid else spec.thinks
    mode = mode_line(spec, language)
    return (gr.Checkbox(visible=spec.hybrid, value=thinking), gr.Markdown(mode, visible=bool(mode)),
            *preset_updates(spec, thinking, touched))


def mode_line(spec: ModelSpec, language: str | None = None) -> str:
    """Said where a model has no thinking switch."""
    return "" if spec.hybrid else say(language, "reply.always_thinks" if spec.thinks else "reply.never_thinks")


def touch(name: str, touched: list[str]) -> list[str]:
    return touched if name in touched else [*touched, name]


def preset_sampling(presets: Sequence[Any], max_new_tokens: Any, seed: Any) -> Sampling:
    """The `Sampling` of a tab with the preset sliders (`preset_sliders`) and its own max-tokens and seed boxes."""
    named = dict(zip(PRESET_FIELDS, presets, strict=True))
    named.update(max_new_tokens=max_new_tokens, seed=seed)
    return sampling_of([named[f.name] for f in fields(Sampling)])


def sampling_of(values: Sequence[Any]) -> Sampling:
    """The `Sampling` the controls show (values in field order, as `SamplingControls.components`)."""
    return sampling_from(dict(zip((f.name for f in fields(Sampling)), values, strict=True)))


# --- the thinking budget -------------------------------------------------------------------------------

NO_BUDGET = -1


def budget_box(**kwargs: Any) -> gr.Number:
    """The thinking budget box, -1 (no limit) at first.

    Not empty at first: an untouched empty number box sends 0, a budget that would cut every
    thinking at once.
    """
    return gr.Number(value=NO_BUDGET, precision=0, minimum=NO_BUDGET, label=t("reply.thinking_budget"),
                     info=t("reply.budget_info"), **kwargs)


def budget_of(value: Any) -> int | None:
    """The thinking budget a box or API caller gave: empty or negative means none."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRequestError("reply.budget_not_whole", value=value) from None
    if number != int(number):
        raise InvalidRequestError("reply.budget_not_whole", value=value)
    return None if number < 0 else int(number)
