"""Guards on the whole Gradio app, installed once by `app.py` after every tab is built.

- `check_numbers`: a number box or slider sent something that is not a number (an API caller's
  `"abc"`) -> "Seed must be a number, got 'abc'." instead of Gradio's "upstream app" error. Only
  API callers can send one (the browser's boxes send numbers), and Gradio checks the value before
  the event has its request, so this is said in English.
- `admit`: before a request that streams a reply joins the queue, `playground.admission` decides
  whether that session and network address may add one more (running + waiting, and the rate
  limit); a refusal reaches the browser or API client as the event's error, and a full queue gets
  the "busy, try again" sentence, both in the language of the page that asked (an API client's
  Accept-Language, else English). Only events whose handler is a generator count (every reply is
  one); page loads, refreshes and Stop never do.
- `queue_depth`: requests waiting in the queue now, for `/health` and the Monitor.

Gradio 6's queue has no hook for admission, so `admit` wraps its `push` (the one place a request
joins); a test checks each refusal end to end through the running app.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import gradio as gr

from playground.admission import Admission, address_of
from playground.i18n import say
from tabs.i18n import language_of, text_of


def check_numbers(demo: gr.Blocks) -> None:
    for block in demo.blocks.values():
        if isinstance(block, (gr.Number, gr.Slider)):
            block.preprocess = _numeric(block.preprocess, text_of(block.label) or say(None, "admission.a_number"))


def _numeric(preprocess: Callable[[Any], Any], label: str) -> Callable[[Any], Any]:
    def checked(payload: Any) -> Any:
        if payload is None:
            return preprocess(payload)
        number = payload
        if isinstance(payload, str):
            try:
                number = float(payload)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise gr.Error(say(None, "admission.not_a_number", label=label, value=_shown(payload)))
        if isinstance(number, float) and not math.isfinite(number):
            raise gr.Error(say(None, "admission.not_finite", label=label, value=_shown(payload)))
        return preprocess(number)

    return checked


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def streams(fn: Any) -> bool:
    """Whether a Gradio event's handler is a generator (a streamed reply), looking through partials."""
    target = fn.fn
    while hasattr(target, "func"):
        target = target.func
    return inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target)


def admit(demo: gr.Blocks, admission: Admission) -> None:
    queue = demo._queue
    push = queue.push

    async def admitted(body: Any, request: Any, username: str | None) -> tuple[bool, Any, str]:
        fn = demo.fns.get(body.fn_index) if body.fn_index is not None else None
        counted = fn is not None and streams(fn)
        address = address_of(request)
        if counted:
            events = [e for e in list(queue.event_ids_to_events.values()) if streams(e.fn)]
            mine = sum(e.session_hash == body.session_hash for e in events)
            here = sum(address_of(e.request) == address for e in events)
            refused = admission.check(address, mine, here)
            if refused is not None:
                return False, refused.said.text(_language(body, request)), "error"
        ok, detail, state = await push(body=body, request=request, username=username)
        if ok and counted:
            admission.sent(address)
        if state == "queue_full":
            detail = admission.busy(_language(body, request))
        return ok, detail, state

    queue.push = admitted


def _language(body: Any, request: Any) -> str:
    """The language of the page (session) that asks to join, from the queue's raw request."""
    return language_of(gr.Request(request, session_hash=getattr(body, "session_hash", None)))


def queue_depth(demo: gr.Blocks) -> int:
    """Requests waiting for a free slot (not those running)."""
    return len(demo._queue)
