"""Qwen Playground: assembles the tabs into one Gradio app and launches it.

    python app.py [--catalog PATH] [--batching auto|on|off] ...   (python app.py --help lists all)
    gradio app.py [flags]                                          (the tabs reload when their code changes)

Every flag can also be set with a PLAYGROUND_* environment variable (`playground.settings`).
Start-up loads no model: the registry loads each one the first time a request needs it (a workshop,
`--workshop KEYS`, loads its models at start and shows where to join above the tabs: `playground.workshop`). Beside
the app, the server answers GET /health and the OpenAI-compatible /v1 API (`playground.openai_api`),
over the same engine and held to the same admission limits as the browser.
"""

from __future__ import annotations

# isort: off
import playground.zerogpu  # noqa: F401  (first: on ZeroGPU it imports `spaces` before anything touches CUDA)
# isort: on
import functools
import logging
import os
import sys
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

if not gr.NO_RELOAD:  # `gradio app.py` runs this file again after an edit: the services' modules stay as they were
    sys.modules.update(globals().get("_KEPT", {}))

from playground.admission import Admission, Policy
from playground.errors import PlaygroundError
from playground.guide import load_guide
from playground.openai_api import openai_routes
from playground.server import BodyLimit, SecurityHeaders, health_route
from playground.services import Services, create_services
from playground.settings import Settings
from playground.workshop import announce
from tabs import chat, code, guard, guide, math_tab, models, thinking, vision, workshop
from tabs.i18n import Page, t, translations
from tabs.picker import Picked

CSS_FILE = Path(__file__).parent / "assets" / "style.css"


def build_app(services: Services, admission: Admission | None = None) -> gr.Blocks:
    """The tabs, queued, behind `admission` (by default one of their own; `main` shares one with the /v1 API)."""
    with gr.Blocks(title="Qwen Playground") as demo:
        with gr.Row(elem_id="app-header", equal_height=True):
            gr.Markdown(t("app.title"), elem_id="app-title")
            page = Page.build(demo)
        if services.workshop is not None:  # where to join, above the tabs
            workshop.build(page, services.workshop)
        with gr.Tabs(elem_id="app-tabs") as tabs:
            with gr.Tab(t(chat.TITLE), id="chat") as chat_tab:
                chat_ui = chat.build(services.catalog, services.engine, services.registry, page,
                                     services.settings.context_limit)
            with gr.Tab(t(math_tab.TITLE), id="math") as math_page:
                math_ui = math_tab.build(services.catalog, services.engine, services.registry, page)
            with gr.Tab(t(code.TITLE), id="code") as code_page:
                code_ui = code.build(services.catalog, services.engine, services.registry, page)
            with gr.Tab(t(vision.TITLE), id="vision") as vision_page:
                vision_ui = vision.build(services.catalog, services.engine, services.registry, page,
                                         services.settings.context_limit)
            with gr.Tab(t(thinking.TITLE), id="thinking") as thinking_tab:
                thinking.build(services.catalog, services.engine, services.registry, page)
            with gr.Tab(t(guide.TITLE), id="guide") as guide_page:
                # The guide's buttons open another tab with a model picked: the app knows the tabs, so it says where.
                guide.build(load_guide(), services.registry, page,
                            destinations(chat_ui, math=math_ui, code=code_ui, vision=vision_ui), tabs,
                            shown_by=guide_page)
            with gr.Tab(t(models.TITLE), id="models") as models_tab:
                models.build(services.catalog, services.registry, page, services.access, services.engine.monitor)
        # Sidebars belong to the page, not to a tab: show the chat's only with the Chat tab.
        sidebars = list(chat_ui.sidebars) if chat_ui else []
        if sidebars:
            chat_tab.select(lambda: [gr.Sidebar(visible=True)] * len(sidebars), None, sidebars,
                            api_visibility="private", queue=False)
            for other in (math_page, code_page, vision_page, thinking_tab, guide_page, models_tab):
                other.select(lambda: [gr.Sidebar(visible=False)] * len(sidebars), None, sidebars,
                             api_visibility="private", queue=False)
        page.finish()
    # As many requests as the backends decode at once go through; the queue holds the rest, up to
    # its size, and shows each waiting browser its place. Before a reply joins it, its session and
    # address must have room (per-session, per-address and rate limits).
    settings = services.settings
    demo.queue(default_concurrency_limit=services.concurrency, max_size=settings.queue_size)
    guard.admit(demo, admission or admission_for(settings))
    guard.check_numbers(demo)
    services.engine.monitor.queue_depth = functools.partial(guard.queue_depth, demo)
    return demo


def destinations(chat_ui: chat.ChatTab | None, **pickers: Picked | None) -> dict[str, guide.Destination]:
    """Where the model guide's buttons go: each tab that has a model picker (`pickers` by the tab's id in the app's
    tabs), with what the tab does when its model changes."""
    found = {}
    if chat_ui is not None:
        found["chat"] = guide.Destination("chat", chat_ui.model, chat_ui.follow)
    for tab, picked in pickers.items():
        if picked is not None:
            found[tab] = guide.Destination(tab, picked.model, picked.follow)
    return found


def admission_for(settings: Settings) -> Admission:
    return Admission(Policy(settings.per_session, settings.per_address, settings.rate, settings.queue_size))


def serve(demo: gr.Blocks, services: Services, admission: Admission | None = None) -> None:
    """Start the server: the app, a request body limit, security headers, and GET /health and the /v1 API beside
    it. API requests share the browser's rate limit when `admission` is the one `build_app` was given."""
    settings = services.settings
    # As many API requests may run or wait as the app serves at once plus its queue holds.
    api = openai_routes(services.engine, admission or admission_for(settings),
                        services.concurrency + settings.queue_size, settings.api_key or None)
    server = {
        "middleware": [Middleware(BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_file_bytes),
                       Middleware(SecurityHeaders)],
        "routes": [health_route(services.registry, services.engine.monitor, services.engine.monitor.queue_depth), *api],
    }
    # Uploads past the largest file accepted are refused by Gradio before they arrive.
    demo.launch(server_name=settings.host, server_port=settings.port, share=settings.share, css_paths=[CSS_FILE],
                js=chat.JS, max_file_size=settings.max_file_bytes, app_kwargs=server, i18n=translations())


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_sources(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        services = create_services(settings)
    except PlaygroundError as exc:  # e.g. a --workshop model the catalogue lacks: the sentence, not a traceback
        sys.exit(f"error: {exc}")
    if services.workshop is not None:
        announce(services.workshop, services.settings.admin_token)
    admission = admission_for(settings)
    serve(build_app(services, admission), services, admission)


# `gradio app.py` (hot reload, for working on the tabs): Gradio runs this file again after each edit and
# serves the new `demo`. The services (models, queue limits) and the server are made once, and `playground`'s
# modules are kept (the running engine's events must stay the classes the tabs check for): edits to tabs/
# reload, edits to playground/ need a restart.
HOT_RELOAD = bool(os.environ.get("GRADIO_WATCH_DIRS"))
if HOT_RELOAD:
    if gr.NO_RELOAD:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        _settings = Settings.from_sources(sys.argv[1:])
        _services = create_services(_settings)
        if _services.workshop is not None:
            announce(_services.workshop, _services.settings.admin_token)
        _admission = admission_for(_settings)
        _KEPT = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "playground"}
    demo = build_app(_services, _admission)

if __name__ == "__main__" and gr.NO_RELOAD:
    if HOT_RELOAD:
        serve(demo, _services, _admission)
    else:
        main()
