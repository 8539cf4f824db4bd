"""Qwen Playground: assembles the tabs into one Gradio app and launches it.

    python app.py [--catalog PATH] [--host HOST] [--port PORT] [--share]

Start-up loads no model: the registry loads each one the first time a request needs it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import gradio as gr

from playground.registry import DEFAULT_KEEP_ALIVE_S
from playground.services import Services, create_services
from tabs import chat, models

CSS_FILE = Path(__file__).parent / "assets" / "style.css"


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="Qwen Playground") as demo:
        gr.Markdown("# Qwen Playground")
        with gr.Tab(chat.TITLE, id="chat"):
            chat.build(services.catalog, services.engine)
        with gr.Tab(models.TITLE, id="models"):
            models.build(services.catalog, services.registry)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Try the Qwen model family in the browser.")
    parser.add_argument("--catalog", help="a catalogue TOML file that replaces the built-in one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a LAN)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    parser.add_argument("--keep-alive", type=float, default=DEFAULT_KEEP_ALIVE_S, metavar="SECONDS",
                        help="unload a model after it has been idle this long (0: never)")
    parser.add_argument("--context-limit", type=int, metavar="TOKENS",
                        help="cap prompt + reply tokens below each model's own window")
    parser.add_argument("--memory-limit", type=float, metavar="GIB",
                        help="use at most this much of the device's memory (for a shared machine)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    services = create_services(
        args.catalog,
        device=args.device,
        keep_alive_s=args.keep_alive,
        context_limit=args.context_limit,
        memory_limit=int(args.memory_limit * 1024**3) if args.memory_limit else None,
    )
    demo = build_app(services)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css_paths=[CSS_FILE])


if __name__ == "__main__":
    main()
