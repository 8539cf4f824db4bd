"""The app in a real browser, used the way a person uses it: type, press Enter, click, read.

Each test gets a fresh page (a new Gradio session, so an empty chat) on this folder's own app
instance with the tiny catalogue (tests/e2e/conftest.py). The tiny models write random text
and never end a turn on their own, so every reply runs to "Max new tokens" exactly.

Waits are Playwright `expect`s with generous timeouts; the only sleeps are short polling steps
in the checks that something does *not* happen (or stops happening).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import (
    DEFAULT_MODEL,
    METRICS,
    RECORD_METRICS_COUNTS,
    RECORD_REPLY_LENGTHS,
    STREAM_TIMEOUT_MS,
    TINY_KEYS,
    UI_TIMEOUT_MS,
    answers,
    bot_messages,
    chat_and_wait,
    chat_input,
    conversation,
    message_button,
    metrics_lines,
    model_picker,
    model_row,
    models_tab_action,
    open_models_tab,
    pick_model,
    send,
    set_max_new_tokens,
    set_slider,
    shot,
    start_long_reply,
    state_cell,
    stays_true,
    stop_button,
    tokens_in,
    user_messages,
    wait_for_a_new_reply,
    wait_until_stable,
)

pytestmark = pytest.mark.e2e


# --- tests ------------------------------------------------------------------------------


def test_a_message_streams_in_and_ends_with_a_metrics_line(page: Page):
    set_max_new_tokens(page, 40)
    page.evaluate(RECORD_REPLY_LENGTHS)
    send(page, "Hello there, tiny model!")

    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_have_text("Hello there, tiny model!")
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    # The reply ran to Max new tokens (the tiny models never end a turn), so the slider reached the model.
    expect(metrics_lines(page).first).to_contain_text("40 tokens")
    # Which model wrote it and at which precision come first; the peak memory last.
    expect(metrics_lines(page).first).to_have_text(
        re.compile(rf"^{DEFAULT_MODEL} · bf16 · (loaded in [\d.]+ s · )?[\d.]+ s to first token · 40 tokens · "
                   r"[\d.]+ tok/s · peak memory [\d.]+ [MG]iB$"))
    expect(answers(page)).to_have_count(1)
    expect(answers(page).first).to_have_text(re.compile(r"\S"))

    steps = page.evaluate("window.__replyLengths")
    streamed = sorted({step["text"] for step in steps if step["text"] > 0 and not step["done"]})
    assert len(streamed) >= 2, f"the reply did not grow in steps before its metrics line: {steps}"
    expect(chat_input(page)).to_be_editable()  # ready for the next message
    shot(page, "chat-reply-done")


def test_stop_halts_a_long_reply(page: Page):
    answer = start_long_reply(page)
    shot(page, "chat-mid-stream")
    stop_button(page).click()

    expect(stop_button(page)).to_be_hidden(timeout=UI_TIMEOUT_MS)
    text = wait_until_stable(page, answer.inner_text, quiet_s=1.0, timeout_s=15)
    assert text.strip(), "the reply vanished when it was stopped"
    assert stays_true(page, lambda: answer.inner_text() == text, seconds=3), "the reply kept growing after Stop"
    expect(chat_input(page)).to_be_editable(timeout=UI_TIMEOUT_MS)
    shot(page, "chat-after-stop")

    # The server stopped too: the model is no longer in use by a request.
    open_models_tab(page)
    expect(state_cell(page, DEFAULT_MODEL)).to_contain_text("idle", timeout=STREAM_TIMEOUT_MS)


def test_a_stopped_reply_says_stopped_in_its_metrics_line(page: Page):
    start_long_reply(page)
    stop_button(page).click()
    expect(stop_button(page)).to_be_hidden(timeout=UI_TIMEOUT_MS)

    expect(metrics_lines(page)).to_have_count(1, timeout=10_000)
    line = metrics_lines(page).first
    expect(line).to_contain_text("stopped")
    assert 0 < tokens_in(line.inner_text()) < 4000


def test_switching_model_follows_its_thinking_support(page: Page):
    thinking = page.get_by_role("checkbox", name="Thinking", exact=True)
    temperature = page.get_by_role("spinbutton", name="number input for Temperature")
    top_p = page.get_by_role("spinbutton", name="number input for Top-p")
    expect(model_picker(page)).to_have_value(re.compile(rf"· {DEFAULT_MODEL} ·"))
    expect(thinking).to_be_hidden()
    plain = (temperature.input_value(), top_p.input_value())

    pick_model(page, "tiny-qwen3")
    expect(thinking).to_be_visible()
    expect(thinking).to_be_checked()
    # The catalogue's thinking preset for the tiny Qwen3 models: temperature 0.6, top-p 0.95.
    expect(temperature).to_have_value("0.6")
    expect(top_p).to_have_value("0.95")

    pick_model(page, "tiny-qwen2")
    expect(thinking).to_be_hidden()
    expect(temperature).to_have_value(plain[0])
    expect(top_p).to_have_value(plain[1])

    chat_and_wait(page, "Hi from tiny-qwen2", max_new_tokens=24)
    expect(answers(page).first).to_have_text(re.compile(r"\S"))


def test_models_tab_lists_loads_and_unloads(page: Page):
    # Use the default model from the chat first, so this test does not depend on the others.
    chat_and_wait(page, "Warm up, please.", max_new_tokens=8)
    open_models_tab(page)
    for key in TINY_KEYS:
        expect(model_row(page, key)).to_have_count(1)
    expect(state_cell(page, DEFAULT_MODEL)).to_contain_text("bf16 loaded", timeout=UI_TIMEOUT_MS)
    shot(page, "models-tab")

    target = "tiny-qwen3-moe"  # no other test loads it
    if "not loaded" not in state_cell(page, target).inner_text():  # left over from an earlier failure
        models_tab_action(page, target, "Unload")
    expect(state_cell(page, target)).to_have_text("not loaded", timeout=UI_TIMEOUT_MS)

    models_tab_action(page, target, "Load", precision="int8")
    expect(page.get_by_text(f"Loaded {target} at int8")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    expect(state_cell(page, target)).to_contain_text("int8 loaded", timeout=UI_TIMEOUT_MS)
    expect(state_cell(page, DEFAULT_MODEL)).to_contain_text("bf16 loaded")  # loading one kept the other
    shot(page, "models-tab-int8-loaded")

    # Its own Unload button, in the list of loaded copies.
    page.get_by_role("button", name=f"Unload {target} (int8)", exact=True).click()
    expect(page.get_by_text(f"Unloaded {target} at int8.")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(state_cell(page, target)).to_have_text("not loaded", timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name=f"Unload {target} (int8)", exact=True)).to_have_count(0)


def test_enter_on_an_empty_textbox_sends_nothing(page: Page):
    box = chat_input(page)
    expect(box).to_be_editable()
    box.click()
    box.press("Enter")
    assert stays_true(page, lambda: bot_messages(page).count() == 0, seconds=3), "an empty message got a reply"


def test_enter_on_an_empty_textbox_leaves_the_chat_as_it_was(page: Page):
    box = chat_input(page)
    box.click()
    box.press("Enter")
    no_bubbles = stays_true(
        page, lambda: user_messages(page).count() == 0 and bot_messages(page).count() == 0, seconds=3
    )
    shot(page, "chat-after-empty-enter")
    assert no_bubbles, "Enter on an empty textbox added a message to the chat"
    expect(box).to_be_editable(timeout=10_000)
    chat_and_wait(page, "Now a real message", max_new_tokens=8)
    expect(user_messages(page)).to_have_count(1)


def ask_for_more_tokens_than_the_window(page: Page) -> None:
    """The tiny models have a 4096-token window; a message longer than that is refused, saying why."""
    set_max_new_tokens(page, 16)
    send(page, "word " * 5000)
    expect(page.get_by_text(re.compile(r"context window leaves room for [\d,]+ tokens of prompt"))).to_be_visible(
        timeout=STREAM_TIMEOUT_MS
    )


def test_an_error_is_shown_to_the_user(page: Page):
    ask_for_more_tokens_than_the_window(page)
    shot(page, "chat-error")
    expect(metrics_lines(page)).to_have_count(0)


def test_after_an_error_the_chat_still_works(page: Page):
    ask_for_more_tokens_than_the_window(page)
    expect(chat_input(page)).to_be_editable(timeout=10_000)
    chat_and_wait(page, "And now a short one.", max_new_tokens=8)


def test_retry_replaces_the_reply_with_a_fresh_one(page: Page):
    # Seed -1 (the default) draws a fresh seed per reply; a high temperature makes two replies differ for sure.
    set_slider(page, "Temperature", 1.5)
    chat_and_wait(page, "Say something random.", max_new_tokens=24)
    first = answers(page).first.inner_text()
    assert first.strip()
    page.evaluate(RECORD_METRICS_COUNTS)

    message_button(page, "Retry").click()

    wait_for_a_new_reply(page, first, max_new_tokens=24)  # checks the text changed
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_have_text("Say something random.")
    shot(page, "chat-after-retry")


def test_undo_removes_the_exchange_and_gives_the_text_back(page: Page):
    chat_and_wait(page, "Undo this, please.", max_new_tokens=16)
    expect(user_messages(page)).to_have_count(1)

    message_button(page, "Undo").click()

    expect(user_messages(page)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    expect(bot_messages(page)).to_have_count(0)
    # Gradio's Undo puts the removed message back in the textbox, ready to change and send again.
    expect(chat_input(page)).to_have_value("Undo this, please.")
    expect(chat_input(page)).to_be_editable()
    expect(conversation(page).get_by_role("button", name=re.compile(r"^Select example 1"))).to_be_visible()
    shot(page, "chat-after-undo")

    chat_input(page).press("Enter")  # send it again as it is
    expect(user_messages(page)).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(user_messages(page).first).to_have_text("Undo this, please.")
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    expect(chat_input(page)).to_have_value("")


def test_editing_the_last_message_asks_again(page: Page):
    set_slider(page, "Temperature", 1.5)  # so the fresh reply surely differs from the first
    chat_and_wait(page, "The first wording.", max_new_tokens=16)
    first = answers(page).first.inner_text()
    page.evaluate(RECORD_METRICS_COUNTS)

    message_button(page, "Edit").click()
    editor = conversation(page).get_by_role("textbox")
    expect(editor).to_have_value("The first wording.")
    editor.fill("A better wording.")
    shot(page, "chat-editing")
    message_button(page, "Submit").click()  # the ✓ under the message being edited

    wait_for_a_new_reply(page, first, max_new_tokens=16)
    expect(editor).to_have_count(0)
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_have_text("A better wording.")
    shot(page, "chat-after-edit")


def test_two_turns_each_get_a_reply_and_a_metrics_line(page: Page):
    chat_and_wait(page, "First question.", max_new_tokens=12)
    chat_and_wait(page, "Second question.", max_new_tokens=20)

    expect(user_messages(page)).to_have_count(2)
    expect(user_messages(page)).to_have_text(["First question.", "Second question."])
    expect(answers(page)).to_have_count(2)
    expect(metrics_lines(page)).to_have_count(2)
    # The bot bubbles in order: answer 1, its metrics line, answer 2, its metrics line.
    bubbles = bot_messages(page).all_inner_texts()
    assert len(bubbles) == 4, bubbles
    assert not METRICS.search(bubbles[0]) and bubbles[0].strip()
    assert tokens_in(bubbles[1]) == 12
    assert not METRICS.search(bubbles[2]) and bubbles[2].strip()
    assert tokens_in(bubbles[3]) == 20
    shot(page, "chat-two-turns")
