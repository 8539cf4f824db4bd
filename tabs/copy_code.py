"""Copy as code: a fold under a tab with the script that reproduces the session's last request there.

`copy_as_code(engine, slot)` builds it where it is called: an accordion with a line of help, a button
and a code box (Python, with copy and download buttons). The button shows `playground.snippets`' script
for what `tabs/reply.py` last streamed for this browser session under `slot` (`tabs.last_request`, by
the key Stop uses: (session, slot), or for one of several replies streamed at once (`stream_many`),
`many_key(session, slot, column)`), as it ran (the precision the registry chose, the app's 16-bit
dtype), headed by a comment line in the reader's language. Before anything was sent there, the box
says so, in a comment. The script is made when asked, so it is always the latest.

    python -m tabs.copy_code   # the piece alone, under a chat that streams through `tabs.reply`
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import gradio as gr

from playground.devices import half_dtype
from playground.engine import Engine
from playground.snippets import snippet
from tabs.i18n import language_of, say, t
from tabs.last_request import LAST
from tabs.reply import bound, many_key, session_of


@dataclass(frozen=True)
class CopyAsCode:
    accordion: gr.Accordion
    button: gr.Button
    code: gr.Code


def show_code(engine: Engine, slot: str, column: str | None = None, request: gr.Request | None = None) -> str:
    """The script for this session's last request under `slot` (and `column`), or a comment saying there is none
    yet."""
    language = language_of(request)
    session = session_of(request)
    last = LAST.get(many_key(session, slot, column) if column else (session, slot))
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


def copy_as_code(engine: Engine, slot: str, column: str | None = None, elem_id: str | None = None) -> CopyAsCode:
    """The fold, built here, for the replies streamed under `slot` (`column`: the one of several streamed at once);
    `elem_id` (default "<slot>[-<column>]-copy-code") names it, its button ("…-button") and its box ("…-box")."""
    elem_id = elem_id or f"{slot}{'-' + column if column else ''}-copy-code"
    with gr.Accordion(t("copy.title"), open=False, elem_id=elem_id) as accordion:
        gr.Markdown(t("copy.help"))
        button = gr.Button(t("copy.show"), size="sm", elem_id=f"{elem_id}-button")
        # Wrapped to the column for reading; copied and downloaded as written.
        code = gr.Code(language="python", label=t("copy.code"), interactive=False, buttons=["copy", "download"],
                       wrap_lines=True, elem_id=f"{elem_id}-box")
    button.click(bound(show_code, engine, slot, column), None, code, api_visibility="private",
                 queue=False)
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
