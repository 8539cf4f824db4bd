"""A model on another server, as a user sees it in a real browser: its thinking and answer stream in, Stop
works, a server that is down is named, and the Models tab shows it as remote with whether its server answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devtools.launch import AppProcess
from tests.e2e.conftest import PHONE, VIEWPORT
from tests.e2e.pages import (
    STREAM_TIMEOUT_MS,
    answers,
    bot_messages,
    metrics_lines,
    open_models_tab,
    pick_model,
    send,
    shot,
    state_cell,
    stop_button,
)
from tests.e2e.scripted_app import REMOTE

ENTRY = Path(__file__).resolve().parent / "scripted_app.py"


@pytest.fixture(scope="module")
def remote_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("remote")
    with AppProcess(None, folder / "app.log", entry=ENTRY, env={REMOTE: "1"}) as process:
        yield process.url


@pytest.fixture(params=["desktop", "phone"])
def remote_page(browser, remote_app: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    phone = request.param == "phone"
    context = browser.new_context(viewport=PHONE if phone else VIEWPORT, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    try:
        page.goto(remote_app)
        page.locator("#chatbot").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
        yield page
    finally:
        context.close()


def test_a_remote_reply_streams_with_its_thinking_and_stop_works(remote_page: Page) -> None:
    page = remote_page
    pick_model(page, "remote-qwen3")
    send(page, "Hello")
    answer = answers(page).filter(has_not_text="Thinking").first
    expect(answer).to_contain_text("Hello! I run on another server.", timeout=STREAM_TIMEOUT_MS)
    thinking = bot_messages(page).filter(has_text="Thinking")  # folded once the answer began; its label holds it
    expect(thinking).to_have_attribute("aria-label", "bot's message: The user says hello. I will greet them back.")
    stop_button(page).click()
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    line = metrics_lines(page).first.inner_text()
    assert re.search(r"remote-qwen3 · remote · thinking on · .* · stopped", line), line
    assert "word299" not in answer.inner_text()  # stopped long before the end
    shot(page, "remote-reply")


def test_a_server_that_is_down_is_named_and_the_models_tab_says_which_answer(remote_page: Page) -> None:
    page = remote_page
    pick_model(page, "remote-down")
    send(page, "Hello")
    error = bot_messages(page).filter(has_text="Could not reach the model server at http://127.0.0.1:")
    expect(error).to_contain_text("(connection refused). Check that the server is running", timeout=STREAM_TIMEOUT_MS)
    open_models_tab(page)
    expect(state_cell(page, "remote-qwen3")).to_have_text(re.compile(r"remote at http://127\.0\.0\.1:\d+/v1: answers"),
                                                          timeout=STREAM_TIMEOUT_MS)
    expect(state_cell(page, "remote-down")).to_contain_text("not answering: connection refused")
    shot(page, "remote-models")
