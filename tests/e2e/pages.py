"""What the browser tests do and read on the page, shared by the e2e test modules.

Locators and actions are named for what a person sees and does (the message box, the metrics
line, pick a model, send and wait); waits are Playwright `expect`s with generous timeouts, and
the only sleeps are short polling steps in checks that something does *not* happen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

TINY_KEYS = ("tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe")
DEFAULT_MODEL = "tiny-qwen2"  # the first chat model of the tiny catalogue; it does not think
THINKING_MODEL = "tiny-qwen3-thinking"  # its template opens <think>: everything it writes is thinking
BROKEN_MODEL = "tiny-broken"  # a folder whose weights cannot be read
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


@contextmanager
def sidebar_open(page: Page, which: str) -> Iterator[None]:
    """Within: the sidebar `which` ("settings" or "chats") is open; a folded one (on a phone) is opened for
    the while and folded again, as a person would."""
    sidebar = page.locator(f"#{which}-sidebar")
    folded = "open" not in (sidebar.get_attribute("class") or "").split()
    if folded:
        sidebar.locator(".toggle-button").click()
        expect(sidebar).to_have_class(re.compile(r"\bopen\b"))
        settle(page, f"#{which}-sidebar")  # a dropdown opened while it slides would pop up where it was
    try:
        yield
    finally:
        if folded:
            sidebar.locator(".toggle-button").click()
            expect(sidebar).not_to_have_class(re.compile(r"\bopen\b"))
            settle(page, f"#{which}-sidebar")


def settle(page: Page, selector: str) -> None:
    """Wait until the element has stopped moving (its box the same over 200 ms)."""
    page.wait_for_function("""(selector) => {
        const box = JSON.stringify(document.querySelector(selector).getBoundingClientRect());
        const now = performance.now();
        if (window.__settleBox !== box) { window.__settleBox = box; window.__settleSince = now; return false; }
        return now - window.__settleSince > 200;
    }""", arg=selector, polling=50, timeout=5_000)


def settings(page: Page) -> Iterator[None]:
    return sidebar_open(page, "settings")


def set_slider(page: Page, label: str, value: float) -> None:
    with settings(page):
        _set_slider(page, label, value)


def _set_slider(page: Page, label: str, value: float) -> None:
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
    with settings(page):
        type_number(page, max_tokens_box(page), value)


def type_number(page: Page, box: Locator, value: int) -> None:
    """Type into a number box; retyped if a freshly loaded page resets it (see set_slider)."""
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
    with settings(page):
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


def open_tab(page: Page, name: str) -> None:
    """Click a top-level tab; on a narrow screen Gradio puts the ones that do not fit behind "More tabs"."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.get_by_role("button", name="More tabs").click()
        tab = page.locator(".overflow-dropdown button").filter(has_text=re.compile(rf"^{re.escape(name)}$"))
    tab.click()


def open_models_tab(page: Page) -> None:
    open_tab(page, "Models")
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




# --- the Thinking tab --------------------------------------------------------------------------------


def open_thinking_tab(page: Page) -> None:
    open_tab(page, "Thinking")
    expect(page.locator("#thinking-prompt textarea")).to_be_visible()


def column_chat(page: Page, side: str) -> Locator:
    return page.locator(f"#thinking-{side}-chat")


def column_figures(page: Page, side: str) -> Locator:
    """A column's figures (there once the column has ended)."""
    return page.locator(f"#thinking-{side}-figures")


def figure(page: Page, side: str, name: str) -> str:
    """One of a column's figures, as shown under its label ("Thinking tokens" -> "30")."""
    item = column_figures(page, side).locator(".figures > div").filter(has=page.get_by_text(name, exact=True))
    return item.locator("dd").inner_text().replace(",", "")


def column_text(page: Page, side: str) -> str:
    """What a column shows so far (thinking, answer, metrics line, errors)."""
    return "\n".join(column_chat(page, side).locator("[data-testid='bot']").all_inner_texts())


def pick_column_model(page: Page, side: str, key: str) -> None:
    combo = page.locator(f"#thinking-{side}-model").get_by_role("combobox")
    combo.click()
    page.get_by_role("option", name=re.compile(rf"· {re.escape(key)} ·")).click()
    expect(combo).to_have_value(re.compile(rf"· {re.escape(key)} ·"))


@contextmanager
def comparison_settings(page: Page) -> Iterator[None]:
    """The accordion with the system prompt, budget, max new tokens and seed, open for the block's duration."""
    accordion = page.get_by_text("System prompt, budget, length, seed", exact=True)
    accordion.click()
    expect(page.locator("#thinking-max-new-tokens input")).to_be_visible()
    yield
    accordion.click()


def compare(page: Page, prompt: str, max_new_tokens: int, budget: int | None = None) -> None:
    """Type the prompt, set the shared limits, press Send."""
    with comparison_settings(page):
        type_number(page, page.locator("#thinking-max-new-tokens input"), max_new_tokens)
        if budget is not None:
            type_number(page, page.locator("#thinking-budget input"), budget)
    page.locator("#thinking-prompt textarea").fill(prompt)
    page.locator("#thinking-send").click()


def inspector_text(page: Page, side: str) -> str:
    """The prompt the column's model received, as the folded inspector shows it once opened."""
    page.locator(f"#thinking-{side}-inspector").get_by_text("Prompt the model received").click()
    lines = page.locator(f"#thinking-{side}-prompt .cm-line")
    expect(lines.first).to_be_visible()
    return "\n".join(lines.evaluate_all("lines => lines.map(line => line.textContent)"))
