"""Every handler of the whole app that wants its visitor's request is handed it by Gradio.

Gradio hands a handler its `gr.Request` only through a positional parameter whose type hint it can read: a
`functools.partial` shows none, and a `request` after `*values` is keyword-only, so either gets None. Every
visitor would then be the one "default" session (one Stop would stop everyone's replies, one Copy as code would
show someone else's request) and would read English. `tabs.reply.bound` makes such handlers; this test walks
every event of the app as `app.py` builds it, so a handler wired any other way fails here, whichever tab it is in.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import gradio as gr
import pytest
from gradio.helpers import special_args

from app import build_app
from playground.access import Access
from playground.engine import Engine
from playground.services import Services
from playground.settings import Settings
from playground.workshop import Workshop
from tests.fakes import scripted_registry

# Handlers each tab has that take a request (all must be among those found: the walk really sees them).
EXPECTED = {
    "tabs.chat": {"send", "regenerate", "stop", "chat", "follow_model", "fresh_choices", "examples"},
    "tabs.code": {"write", "stop", "code_api", "fill", "fim_api", "follow_model", "fresh_choices", "show_examples",
                  "show_fim_examples", "show_file", "run_file"},
    "tabs.vision": {"ask", "stop", "vision_api", "budget_markdown", "follow_model", "fresh_choices", "mode_words",
                    "show_examples"},
    "tabs.thinking": {"run_ui", "stop_both", "compare_thinking", "page_words", "show_examples", "follow_column"},
    "tabs.math_tab": {"run_ui", "stop_all", "math_api", "page_words", "show_examples", "follow_model"},
    "tabs.copy_code": {"show_code"},
    "tabs.workshop": {"show"},
    "tabs.guide": {"refresh"},
}


def underlying(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function a handler calls in the end (through partials and wrappers)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.unwrap(fn)


def request_parameters(fn: Callable[..., Any]) -> list[str]:
    """The parameters of `fn` hinted as a `gr.Request`."""
    try:
        hints = typing.get_type_hints(fn)
    except TypeError:  # a builtin or a class Gradio wired itself
        return []
    return [name for name, hint in hints.items() if hint in (gr.Request, gr.Request | None)]


@pytest.fixture(scope="module")
def app(qwen3_tokenizer) -> gr.Blocks:
    """The whole app on scripted models, with a workshop's banner too."""
    registry, _ = scripted_registry(qwen3_tokenizer)
    services = Services(registry.catalog, registry, Engine(registry), Settings(), concurrency=2,
                        access=Access(None, local=True), workshop=Workshop((), "127.0.0.1", 7860))
    yield build_app(services)
    registry.close()


def test_every_handler_that_takes_a_request_is_handed_it(app: gr.Blocks) -> None:
    request = gr.Request(session_hash="a-visitor")
    found: dict[str, set[str]] = {}
    missed: set[str] = set()
    for dependency in app.fns.values():
        if dependency.fn is None:
            continue
        function = underlying(dependency.fn)
        wanted = request_parameters(function)
        if not wanted:
            continue
        name = f"{function.__module__}.{function.__qualname__}"
        found.setdefault(function.__module__, set()).add(function.__name__)
        # What Gradio does with an event's input values before it calls the handler with them, positionally.
        given, *_ = special_args(dependency.fn, [None] * len(dependency.inputs), request)
        try:
            arguments = inspect.signature(dependency.fn).bind(*given).arguments
        except TypeError as exc:
            missed.add(f"{name}: {exc}")
            continue
        for parameter in wanted:
            if arguments.get(parameter) is not request:
                missed.add(f"{name}: its {parameter!r} gets {arguments.get(parameter)!r}, not the request")
    assert not missed, "handlers Gradio would not hand the request to (wire them with tabs.reply.bound):\n" + \
        "\n".join(sorted(missed))
    for module, names in EXPECTED.items():
        assert names <= found.get(module, set()), (module, names - found.get(module, set()))
