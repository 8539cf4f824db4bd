"""The workshop banner: where to join, as a link and a QR code, at the top of the page, above the tabs.

Only in a workshop (`--workshop`; what it means is `playground.workshop`). Foldable, open at first:
the teacher projects the page and the room scans the code. The addresses are worked out each time a
page opens, not at start: the machine may have joined the room's network since, and the `--share`
link exists only once the server is up. The words are said in the reader's language; the QR code
is inline SVG (the page's Content-Security-Policy loads images from this server only).

    python -m tabs.workshop [--join-url URL] [--host 0.0.0.0]   # the banner alone, for development
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gradio as gr

from playground.workshop import ANY_HOSTS, Workshop, interfaces, qr_svg
from tabs.i18n import Page, language_of, say, t

# The code's own size on the page (its modules scale with it); white around it in a dark theme too.
QR_CSS = """
svg.workshop-qr { width: min(220px, 60vw); height: auto; display: block; margin: 0 auto; image-rendering: pixelated; }
"""


def banner(workshop: Workshop, table: Mapping[str, Sequence[Any]], up: Mapping[str, bool] | None,
           share: str | None, language: str | None) -> tuple[str, str]:
    """(the Markdown to show, the QR code's SVG) for these interfaces and share link, in `language`.

    The first address is the one in the sentence and the code; the others follow as text. With no
    address learners can reach, the sentence says why and there is no code.
    """
    urls = workshop.urls(table, up, share=share)
    if not urls:
        key = "workshop.no_address" if workshop.host in ANY_HOSTS else "workshop.local_only"
        return say(language, key, host=workshop.host), ""
    lines = [say(language, "workshop.join", url=urls[0])]
    if urls[1:]:
        lines.append(say(language, "workshop.also", urls=say(language, "common.list_separator").join(urls[1:])))
    lines.append(say(language, "workshop.scan"))
    return "\n\n".join(lines), qr_svg(urls[0], say(language, "workshop.qr_title", url=urls[0]))


def show_banner(workshop: Workshop, demo: gr.Blocks) -> Callable[[gr.Request], tuple[str, str]]:
    """The handler that makes the banner for a page that opens: this machine's interfaces now, the share link if
    there is one, in the page's language. (A function of its own, not a `functools.partial`: Gradio passes the
    request only to a function whose own annotations say `gr.Request`.)"""

    def show(request: gr.Request) -> tuple[str, str]:
        table, up = interfaces()
        return banner(workshop, table, up, getattr(demo, "share_url", None), language_of(request))

    return show


def build(page: Page, workshop: Workshop) -> None:
    """The banner, filled when the page opens (after its language is known)."""
    with gr.Accordion(t("workshop.banner_title"), open=True, elem_id="workshop-banner"), gr.Row(equal_height=False):
        with gr.Column(scale=3):
            text = gr.Markdown(elem_id="workshop-join")
        with gr.Column(scale=1, min_width=200):
            code = gr.HTML(elem_id="workshop-qr", js_on_load=None, css_template=QR_CSS)
    page.load(show_banner(workshop, page.demo), None, [text, code], queue=False)


if __name__ == "__main__":
    from playground.settings import Settings
    from tabs.i18n import translations

    settings = Settings.from_sources()
    lesson = Workshop(settings.workshop_models, settings.host, settings.port, settings.join_url)
    with gr.Blocks(title="Workshop") as app:
        build(Page.build(app), lesson)
    app.launch(server_name=settings.host, server_port=settings.port, i18n=translations())
