"""Copy as code: a fold under a tab with the script that reproduces the session's last request there.

`copy_as_code(engine, slot)` builds it where it is called: an accordion with a line of help, a button
and a code box (Python, with copy and download buttons). The button shows `playground.snippets`' script
for what `tabs/reply.py` last streamed for this browser session under `slot` (`tabs.last_request`: the
same key Stop uses, e.g. "chat", or `many_key`'s "thinking-left"), as it ran (the precision the registry
chose, the app's 16-bit dtype), headed by a comment line in the reader's language. Before anything was
sent there, the box says so, in a comment. The script is made when asked, so it is always the latest.

    python -m tabs.copy_code   # the piece alone, under a chat that streams through `tabs.reply`
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import gradio as gr

from playground.devices import half_dtype
from playground.engine import Engine
from playground.snippets import snippet
from tabs.i18n import language_of, say, t
from tabs.last_request import LAST
from tabs.reply import session_of


@dataclass(frozen=True)
class CopyAsCode:
    accordion: gr.Accordion
    button: gr.Button
    code: gr.Code


def show_code(engine: Engine, slot: str, request: gr.Request | None = None) -> str:
    """The script for this session's last request under `slot`, or a comment saying there is none yet."""
    language = language_of(request)
    last = LAST.get((session_of(request), slot))
    if last is None:
        return f"# {say(language, 'copy.nothing_yet')}\n"
    registry = engine.registry
    spec = registry.catalog.get(last.request.model)
    half = str(half_dtype(registry.loader.device)).removeprefix("torch.")
    ran = replace(last.ran, half=half)
    if spec.remote is not None:
        heading = say(language, "copy.heading_remote", model=spec.key)
    else:
        precision = ran.precision or last.request.precision or spec.precision
        heading = say(language, "copy.heading", model=spec.key, precision=precision)
    return f"# {heading}\n{snippet(spec, last.request, ran)}"


def copy_as_code(engine: Engine, slot: str, elem_id: str | None = None) -> CopyAsCode:
    """The fold, built here; `elem_id` (default "<slot>-copy-code") names it, its button and its box."""
    elem_id = elem_id or f"{slot}-copy-code"
    with gr.Accordion(t("copy.title"), open=False, elem_id=elem_id) as accordion:
        gr.Markdown(t("copy.help"))
        button = gr.Button(t("copy.show"), size="sm", elem_id=f"{elem_id}-button")
        code = gr.Code(language="python", label=t("copy.code"), interactive=False, buttons=["copy", "download"],
                       elem_id=f"{elem_id}-box")
    button.click(functools.partial(show_code, engine, slot), None, code, api_visibility="private", queue=False)
    return CopyAsCode(accordion, button, code)


if __name__ == "__main__":
    from playground.requests import Request
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import Page, translations
    from tabs.reply import Stops, stream_reply

    services = create_services(Settings.from_sources())
    stops = Stops()
    first = next(iter(services.catalog.models))

    def ask(text: str, request: gr.Request) -> str:
        asked, reply = Request(first, [{"role": "user", "content": text}]), ""
        for view in stream_reply(services.engine, asked, stops, (session_of(request), "demo")):
            reply = view.answer
        return reply

    with gr.Blocks(title=say(None, "copy.title")) as app:
        page = Page.build(app)
        message = gr.Textbox(label=first)
        answer = gr.Markdown()
        message.submit(ask, message, answer)
        copy_as_code(services.engine, "demo")
        page.finish()
    app.launch(i18n=translations())
