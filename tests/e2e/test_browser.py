"""The app in a real browser, used the way a person uses it: type, press Enter, click, read.

Each test gets a fresh page (a new Gradio session, so an empty chat) on this folder's own app
instance with the tiny catalogue (tests/e2e/conftest.py). The tiny models write random text
and never end a turn on their own, so every reply runs to "Max new tokens" exactly.

Waits are Playwright `expect`s with generous timeouts; the only sleeps are short polling steps
in the checks that something does *not* happen (or stops happening).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

TINY_KEYS = ("tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe")
DEFAULT_MODEL = "tiny-qwen2"  # the first chat model of the tiny catalogue; it does not think
STREAM_TIMEOUT_MS = 60_000  # a first reply includes loading the model
UI_TIMEOUT_MS = 30_000
METRICS = re.compile(r"(\d+) tokens · [\d.]+ tok/s")

# --- helpers ----------------------------------------------------------------------------


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of the moment when PLAYGROUND_E2E_SHOTS names a folder (for people to look at)."""
    folder = os.environ.get("PLAYGROUND_E2E_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def chat_input(page: Page) -> Locator:
    return page.locator("#chat-input textarea")


def user_messages(page: Page) -> Locator:
    return page.locator("#chatbot [data-testid='user']")


def bot_messages(page: Page) -> Locator:
    """Every assistant bubble: answers, thinking blocks and metrics lines."""
    return page.locator("#chatbot [data-testid='bot']")


def answers(page: Page) -> Locator:
    """Assistant bubbles that are not a metrics line (the app writes those inside <sub>)."""
    return bot_messages(page).filter(has_not=page.locator("sub"))


def metrics_lines(page: Page) -> Locator:
    return page.locator("#chatbot [data-testid='bot'] sub").filter(has_text=METRICS)


def stop_button(page: Page) -> Locator:
    # Gradio's stop button has neither text nor an aria-label; fall back on its class.
    return page.get_by_role("button", name=re.compile(r"^stop$", re.I)).or_(page.locator("button.stop-button"))


def tokens_in(metrics_text: str) -> int:
    match = METRICS.search(metrics_text)
    assert match, f"no 'N tokens · X tok/s' in the metrics line {metrics_text!r}"
    return int(match.group(1))


def set_slider(page: Page, label: str, value: float) -> None:
    """Type into a slider's number box (in the settings sidebar), as a user would, and check the slider followed.

    Right after the page loads, the freshly mounted slider can still reset the box to its own
    value, losing the typing; like a user, type again when the value did not stick.
    """
    box = page.get_by_role("spinbutton", name=f"number input for {label}")
    slider = page.get_by_role("slider", name=f"range slider for {label}")
    for _ in range(3):
        expect(box).to_be_editable()
        box.fill(str(value))
        box.press("Enter")
        try:
            expect(slider).to_have_value(str(value), timeout=3_000)
        except AssertionError:
            continue
        if stays_true(page, lambda: slider.input_value() == str(value), seconds=0.5):
            return
    expect(slider).to_have_value(str(value))


def max_tokens_box(page: Page) -> Locator:
    return page.locator("#max-new-tokens input")


def set_max_new_tokens(page: Page, value: int) -> None:
    """Type into the Max new tokens box; retyped if a freshly loaded page resets it (see set_slider)."""
    box = max_tokens_box(page)
    for _ in range(3):
        expect(box).to_be_editable()
        box.fill(str(value))
        box.press("Tab")
        if stays_true(page, lambda: box.input_value() == str(value), seconds=0.5):
            return
    expect(box).to_have_value(str(value))


def send(page: Page, text: str) -> None:
    box = chat_input(page)
    expect(box).to_be_editable(timeout=STREAM_TIMEOUT_MS)
    box.fill(text)
    box.press("Enter")


def model_picker(page: Page) -> Locator:
    return page.locator("#chat-model").get_by_role("combobox")


def pick_model(page: Page, key: str) -> None:
    """Gradio 6 dropdown: click it open, click the option (its label names the key), check it took."""
    combo = model_picker(page)
    combo.click()
    page.get_by_role("option", name=re.compile(rf"· {re.escape(key)} ·")).click()
    expect(combo).to_have_value(re.compile(rf"· {re.escape(key)} ·"))


def chat_and_wait(page: Page, text: str, max_new_tokens: int) -> None:
    """Send one message and wait for its metrics line (the end of the reply)."""
    before = metrics_lines(page).count()
    set_max_new_tokens(page, max_new_tokens)
    send(page, text)
    expect(metrics_lines(page)).to_have_count(before + 1, timeout=STREAM_TIMEOUT_MS)
    expect(metrics_lines(page).last).to_contain_text(f"{max_new_tokens} tokens")


def stays_true(page: Page, check: Callable[[], bool], seconds: float) -> bool:
    """Whether `check` holds at every poll for `seconds` (for things that must not happen)."""
    for _ in range(int(seconds * 10)):
        if not check():
            return False
        page.wait_for_timeout(100)
    return check()


def wait_until_stable(page: Page, read: Callable[[], str], quiet_s: float, timeout_s: float) -> str:
    """Poll `read` until it returns the same value for `quiet_s`; fail after `timeout_s`."""
    last, quiet, waited = read(), 0.0, 0.0
    while quiet < quiet_s:
        if waited > timeout_s:
            pytest.fail(f"still changing after {timeout_s} s (last seen: {len(last)} characters)")
        page.wait_for_timeout(100)
        waited += 0.1
        now = read()
        quiet = quiet + 0.1 if now == last else 0.0
        last = now
    return last


# Records the length of the reply text at every DOM change of the chatbot, so the test sees the
# streaming steps however fast they come (polling from Python could miss them).
RECORD_REPLY_LENGTHS = """() => {
    const chatbot = document.querySelector('#chatbot');
    window.__replyLengths = [];
    const measure = () => {
        const bubbles = [...chatbot.querySelectorAll('[data-testid="bot"]')];
        const text = bubbles.filter(b => !b.querySelector('sub'))
            .reduce((n, b) => n + b.textContent.trim().length, 0);
        const done = bubbles.some(b => b.querySelector('sub'));
        const last = window.__replyLengths[window.__replyLengths.length - 1];
        if (!last || last.text !== text || last.done !== done) window.__replyLengths.push({text, done});
    };
    new MutationObserver(measure).observe(chatbot, {subtree: true, childList: true, characterData: true});
}"""


# Records the number of metrics lines at every DOM change of the chatbot, so a test can tell that
# an old reply's metrics line went away before a new one came (a retry can take well under a second).
RECORD_METRICS_COUNTS = """() => {
    const chatbot = document.querySelector('#chatbot');
    const count = () => [...chatbot.querySelectorAll('[data-testid="bot"] sub')]
        .filter(s => /\\d+ tokens · [\\d.]+ tok\\/s/.test(s.textContent)).length;
    window.__metricsCounts = [count()];
    new MutationObserver(() => {
        const now = count();
        if (window.__metricsCounts[window.__metricsCounts.length - 1] !== now) window.__metricsCounts.push(now);
    }).observe(chatbot, {subtree: true, childList: true, characterData: true});
}"""


def conversation(page: Page) -> Locator:
    """The chat's message list (Gradio gives it role=log); its buttons are the per-message ones."""
    return page.get_by_role("log", name="chatbot conversation")


def message_button(page: Page, name: str) -> Locator:
    """A per-message button of the chat (Retry, Undo, Edit, ...): the one of the last message that has it."""
    return conversation(page).get_by_role("button", name=name, exact=True).last


def wait_for_a_new_reply(page: Page, old_answer: str, max_new_tokens: int) -> str:
    """After Retry or an edit: the old reply went, a fresh one ran to its end; returns its text.

    Needs RECORD_METRICS_COUNTS installed before the action.
    """
    page.wait_for_function("() => window.__metricsCounts.includes(0)", timeout=UI_TIMEOUT_MS)  # the old one went
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)  # and a new one ran to its end
    expect(metrics_lines(page).first).to_contain_text(f"{max_new_tokens} tokens")
    expect(answers(page)).to_have_count(1)
    expect(chat_input(page)).to_be_editable(timeout=UI_TIMEOUT_MS)  # the chat is ready again
    counts = page.evaluate("window.__metricsCounts")
    assert counts[0] == 1 and counts[-1] == 1, f"metrics lines counted along the way: {counts}"
    answer = answers(page).first.inner_text()
    assert answer.strip() and answer != old_answer, f"the reply did not change: {answer!r}"
    return answer


def start_long_reply(page: Page) -> Locator:
    """Ask for 4000 tokens (a minute or more here) and return the answer once text is arriving."""
    set_max_new_tokens(page, 4000)
    send(page, "Tell me a very long story, please.")
    expect(user_messages(page)).to_have_count(1)
    answer = answers(page).first
    expect(answer).to_have_text(re.compile(r"\S[\s\S]{9}"), timeout=STREAM_TIMEOUT_MS)
    expect(stop_button(page)).to_be_visible()
    return answer


def open_models_tab(page: Page) -> None:
    page.get_by_role("tab", name="Models", exact=True).click()
    expect(page.locator("#models-table")).to_be_visible()


def model_row(page: Page, key: str) -> Locator:
    return (
        page.locator("#models-table").get_by_role("row").filter(has=page.get_by_role("gridcell", name=key, exact=True))
    )


def state_cell(page: Page, key: str) -> Locator:
    return model_row(page, key).get_by_role("gridcell").last  # "State" is the last column


def models_tab_action(page: Page, key: str, button: str, precision: str | None = None) -> None:
    """On the Models tab: pick `key` (and a precision), then press Load or Unload."""
    combo = page.get_by_role("combobox", name="Model", exact=True)
    combo.click()
    page.get_by_role("option", name=key, exact=True).click()
    expect(combo).to_have_value(key)
    if precision is not None:
        radio = page.get_by_role("radio", name=precision, exact=True)
        radio.check()
        expect(radio).to_be_checked()
    page.get_by_role("button", name=button, exact=True).click()


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
                   r"[\d.]+ tok/s · peak [\d.]+ [MG]iB$"))
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
    expect(page.get_by_text(re.compile(r"context window leaves room for \d+ tokens of prompt"))).to_be_visible(
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
