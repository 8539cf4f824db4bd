"""Tool-integrated reasoning (TIR): the model writes Python, the app runs it, the model reads the output.

Qwen2.5-Math's TIR format: the model writes a ```` ```python ```` block; generation pauses once
the block closes; the code runs in a sandbox (`playground.tasks.sandbox`, another process); its
output goes back into the reply as ```` ```output ```` … ```` ``` ```` and the model goes on from
there (`Request.continuation`), up to `max_calls` times. Blocks after that are left as text.

`solve` wraps `Engine.stream`: the same events (the thinking and answer text as the model wrote
it, cut right after each block it ran), plus a `ToolCall` per block run, and one `Metrics` at the
end for the whole reply (tokens of every step; the time from the first request to the last token).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from playground.engine import Engine
from playground.i18n import Said
from playground.requests import Answer, Cancel, Event, Finish, Metrics, PromptText, Request, Thinking, Written

MAX_CALLS = 4
CODE = re.compile(r"```python[ \t]*\n(.*?)\n[ \t]*```", re.S)  # a complete block; group 1 is the code


class Runs(Protocol):
    """What runs the code: `playground.tasks.sandbox.Sandbox` (variables carry over between calls)."""

    def run(self, code: str) -> RunResult: ...


class RunResult(Protocol):
    output: str
    ok: bool
    seconds: float
    said: Said | None  # why the sandbox stopped the code, for people (the output says it for the model)


@dataclass(frozen=True)
class ToolCall:
    """One Python block the app ran: its code and output, where it was (thinking or answer), its number (1..),
    and why the sandbox stopped it (`said`, for people; the output's last line says it in English for the model)."""

    code: str
    output: str
    ok: bool
    seconds: float
    in_thinking: bool
    number: int
    said: Said | None = None


def output_block(output: str) -> str:
    """The output as the model reads it (Qwen's TIR format), after the block's closing fence."""
    return f"\n```output\n{output.rstrip()}\n```\n"


def solve(engine: Engine, request: Request, sandbox: Runs, cancel: Cancel | None = None,
          max_calls: int = MAX_CALLS) -> Iterator[Event | ToolCall]:
    """One solution with its Python blocks run; `request.sampling.max_new_tokens` bounds the whole reply."""
    cancel = cancel or Cancel()
    written = {"thinking": "", "answer": ""}
    fresh = {"thinking": 0, "answer": 0}  # where text not yet searched for a block starts (after the last output)
    steps: list[Metrics] = []
    calls, started = 0, time.perf_counter()
    while True:
        step = cancel.child()  # stops this step alone when a block closes; the user's Stop stops all
        left = request.sampling.max_new_tokens - sum(m.tokens for m in steps)
        continuation = Written(**written) if any(written.values()) else None
        call: tuple[str, str] | None = None
        events = engine.stream(replace(request, continuation=continuation).with_sampling(max_new_tokens=left), step)
        try:
            for event in events:
                if isinstance(event, Metrics):
                    steps.append(event)
                elif isinstance(event, Thinking | Answer):
                    if call is not None:
                        continue  # written after the block closed, before the model stopped: not part of the reply
                    part = "thinking" if isinstance(event, Thinking) else "answer"
                    before = written[part]
                    text = before + event.text
                    block = CODE.search(text, fresh[part]) if calls < max_calls else None
                    if block is not None:
                        text = text[: block.end()]
                        call = (part, block.group(1))
                        step.set()
                    written[part] = text
                    if len(text) > len(before):
                        yield type(event)(text[len(before) :])
                elif not (isinstance(event, PromptText) and steps):  # the prompt as the first step saw it
                    yield event
        finally:
            events.close()
        if call is None or cancel.is_set():
            break
        part, code = call
        calls += 1
        result = sandbox.run(code)
        written[part] += output_block(result.output)
        fresh[part] = len(written[part])
        yield ToolCall(code, result.output, result.ok, result.seconds, part == "thinking", calls, result.said)
        if cancel.is_set() or sum(m.tokens for m in steps) >= request.sampling.max_new_tokens:
            break
    if steps:
        # A step this loop stopped at a block ends "cancelled"; the reply ends as its last step did, unless the
        # user stopped it, or the tokens ran out right after a block.
        finish = Finish.CANCELLED if cancel.is_set() else (Finish.LENGTH if call else steps[-1].finish)
        yield whole(steps, time.perf_counter() - started, finish)


def with_sandbox(engine: Engine, max_calls: int = MAX_CALLS) -> Callable[[Request, Cancel], Iterator[Event | ToolCall]]:
    """A reply's events with its Python run in a sandbox of its own, closed when the reply ends."""
    from playground.tasks.sandbox import Sandbox  # imported only where code is run

    def run(request: Request, cancel: Cancel) -> Iterator[Event | ToolCall]:
        with Sandbox() as sandbox:
            yield from solve(engine, request, sandbox, cancel, max_calls)

    return run


def whole(steps: list[Metrics], seconds: float, finish: Finish) -> Metrics:
    """One reply's metrics from its steps: the first step's prompt and first token, every step's tokens."""
    first, last = steps[0], steps[-1]
    return replace(last, prompt_tokens=first.prompt_tokens, tokens=sum(m.tokens for m in steps),
                   thinking_tokens=sum(m.thinking_tokens for m in steps), queued_s=first.queued_s,
                   time_to_first_token_s=first.time_to_first_token_s, seconds=seconds, finish=finish,
                   peak_memory=max((m.peak_memory for m in steps if m.peak_memory is not None), default=None))
