"""Hardening as a visitor sees it in a real browser: markup in messages stays harmless, model management is
the operator's, and the Monitor draws its plots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devtools.launch import AppProcess
from tests.e2e.pages import STREAM_TIMEOUT_MS, metrics_lines, open_tab, send, shot
from tests.e2e.scripted_app import HOSTILE

pytestmark = pytest.mark.scripted

ENTRY = Path(__file__).resolve().parent / "scripted_app.py"
TOKEN = "operator-s3cret"


def test_markup_in_messages_cannot_cover_the_page_post_a_form_fetch_elsewhere_or_run(page: Page) -> None:
    elsewhere: list[str] = []  # what reached another origin (a blocked request never gets a response)
    page.on("response", lambda response: elsewhere.append(response.url) if "attacker" in response.url else None)
    send(page, "Render this: " + HOSTILE)  # the user's message carries it, and the reply carries its own
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    for prefix in ("", "bot-"):
        overlay, bubble = page.locator(f"#{prefix}overlay"), page.locator(".message-content").filter(
            has=page.locator(f"#{prefix}overlay"))
        expect(overlay).to_have_count(1)
        box, inside = overlay.bounding_box(), bubble.bounding_box()
        assert box["y"] >= inside["y"] - 1 and box["y"] + box["height"] <= inside["y"] + inside["height"] + 1, \
            "the layer reaches outside its message"
        expect(page.locator(f"#{prefix}password")).to_be_hidden()  # forms are not drawn
        js_link = page.locator(f"#{prefix}js-link")
        if js_link.count():  # (the layer lies over it inside its bubble: the click is the page's own)
            js_link.evaluate("link => link.click()")
    # Outside the messages, the page is the app's, not a layer over it: the message box, the tabs, the header.
    for selector in ("#chat-input textarea", "#app-tabs [role='tab']", "#app-title"):
        covered = page.locator(selector).first.evaluate("""(element) => {
            const box = element.getBoundingClientRect();
            const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return top ? Boolean(top.closest('[id$=overlay]')) : null;
        }""")
        assert covered is False, f"{selector} is covered by a message's layer (or off the page)"
    links = page.locator("a.remote-image")
    expect(links.first).to_contain_text("from attacker.example; click to open")
    assert links.first.get_attribute("target") == "_blank"
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None and elsewhere == []
    shot(page, "hostile-markup")


@pytest.fixture(scope="module")
def operated_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("operated")
    with AppProcess(None, folder / "app.log", "--admin-token", TOKEN, entry=ENTRY) as process:
        yield process.url


def test_visitors_see_models_read_only_until_the_operator_signs_in(browser, operated_app: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(operated_app)
        page.locator("#chatbot").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
        open_tab(page, "Models")
        expect(page.locator("#models-visitor")).to_contain_text("Models are shown read-only.")
        expect(page.locator("#models-load")).to_be_hidden()
        expect(page.locator("#models-precision")).to_be_hidden()
        token = page.locator("#models-token input")
        token.fill("guess")
        token.press("Enter")
        expect(page.locator("#models-status")).to_contain_text("That is not the admin token.")
        expect(page.locator("#models-load")).to_be_hidden()
        token.fill(TOKEN)
        page.locator("#models-sign-in-button").click()
        expect(page.locator("#models-status")).to_contain_text("Signed in")
        expect(page.locator("#models-visitor")).to_be_hidden()
        page.locator("#models-load").click()
        expect(page.locator("#models-status")).to_contain_text("Loaded scripted-qwen3", timeout=STREAM_TIMEOUT_MS)
        expect(page.get_by_role("button", name="Unload scripted-qwen3 (bf16)")).to_be_visible()
        shot(page, "models-operator")
        # The operator's sign-in is theirs: another visitor, after it, still sees the models read-only.
        visitor = context.browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        try:
            visitor.goto(operated_app)
            visitor.locator("#chatbot").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
            open_tab(visitor, "Models")
            expect(visitor.locator("#models-visitor")).to_contain_text("Models are shown read-only.")
            expect(visitor.locator(".loaded-copy")).to_have_count(1)  # the operator's load, shown to all
            expect(visitor.locator("#models-load")).to_be_hidden()
            expect(visitor.get_by_role("button", name="Unload scripted-qwen3 (bf16)")).to_have_count(0)
        finally:
            visitor.context.close()
    finally:
        context.close()


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_the_monitor_plots_the_last_hour(page: Page) -> None:
    send(page, "What is 3 + 4?")
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    open_tab(page, "Models")
    page.locator("#monitor").get_by_text("Monitor", exact=True).click()
    expect(page.locator("#monitor-summary")).to_contain_text("requests", timeout=30_000)
    plots = page.locator(".monitor-plot")
    expect(plots).to_have_count(4)
    for i in range(4):  # each draws once a sample is taken (every 10 s)
        expect(plots.nth(i).locator("canvas, svg").first).to_be_visible(timeout=30_000)
    shot(page, "monitor")
