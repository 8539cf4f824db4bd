"""The Chat and Models tabs as people who use chat apps expect them: one test per thing they expect.

Loading shown at once, a reply that ran out of tokens while thinking, replies that say who wrote
them, settings that survive a model switch, sidebars (desktop and phone, light and dark), the
keyboard, conversations and settings that survive a reload, the picker and the context meter,
and the Models tab's per-copy Unload, progress and errors.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import (
    BROKEN_MODEL,
    DEFAULT_MODEL,
    STREAM_TIMEOUT_MS,
    THINKING_MODEL,
    UI_TIMEOUT_MS,
    chat_and_wait,
    chat_input,
    conversation,
    max_tokens_box,
    metrics_lines,
    model_picker,
    models_tab_action,
    open_models_tab,
    open_tab,
    pick_model,
    send,
    set_max_new_tokens,
    set_slider,
    settings,
    settle,
    shot,
    sidebar_open,
    start_long_reply,
    state_cell,
    stop_button,
    tokens_in,
    user_messages,
)

pytestmark = pytest.mark.e2e

# Notes when a block of the reply first shows a given title, in ms after the message was sent.
RECORD_FIRST_SEEN = """(title) => {
    window.__sentAt = null; window.__seenAt = null;
    const box = document.querySelector('#chat-input textarea');
    box.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__sentAt = performance.now(); }, true);
    new MutationObserver(() => {
        if (window.__seenAt === null && document.querySelector('#chatbot').textContent.includes(title)) {
            window.__seenAt = performance.now();
        }
    }).observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
}"""


def ensure_unloaded(page: Page, key: str) -> None:
    """Unload `key` on the Models tab if an earlier test loaded it, then come back to the chat."""
    open_models_tab(page)
    button = page.get_by_role("button", name=re.compile(rf"^Unload {re.escape(key)} \("))
    for _ in range(button.count()):
        button.first.click()
        page.wait_for_timeout(300)
    expect(state_cell(page, key)).to_have_text("not loaded", timeout=UI_TIMEOUT_MS)
    open_tab(page, "Chat")
    expect(chat_input(page)).to_be_visible()


# --- 1. loading shown where the user waits ---------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "phone-dark"], indirect=True)
def test_the_first_message_to_an_unloaded_model_shows_loading_within_a_second(page: Page):
    ensure_unloaded(page, "tiny-qwen3-moe")
    pick_model(page, "tiny-qwen3-moe")
    page.evaluate(RECORD_FIRST_SEEN, "Loading tiny-qwen3-moe")
    set_max_new_tokens(page, 8)
    send(page, "Are you there?")
    page.wait_for_function("() => window.__seenAt !== null", timeout=5_000)
    shown_after_ms = page.evaluate("window.__seenAt - window.__sentAt")
    assert shown_after_ms < 1000, f"the loading block came {shown_after_ms:.0f} ms after the message"
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    expect(metrics_lines(page).first).to_contain_text("loaded in")  # the load's time, said once it is done
    expect(conversation(page).get_by_text("Loading tiny-qwen3-moe")).to_have_count(0)


# --- 2. thinking that used every token ---------------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_thinking_that_runs_out_of_tokens_says_so_and_offers_a_larger_limit(page: Page):
    pick_model(page, THINKING_MODEL)
    chat_and_wait(page, "Think about it.", max_new_tokens=16)
    thinking_block = conversation(page).get_by_text("Thinking", exact=True)
    expect(thinking_block).to_be_visible()
    expect(conversation(page).get_by_text(re.compile("spent all 16 new tokens thinking"))).to_be_visible()
    # The budget box starts at "no limit": the model thought all 16 tokens itself, nothing cut in.
    expect(metrics_lines(page).first).not_to_contain_text("thinking budget reached")
    shot(page, "chat-out-of-tokens")
    conversation(page).get_by_role("button", name="Retry with 64 new tokens").click()
    with settings(page):
        expect(max_tokens_box(page)).to_have_value("64")
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    expect(metrics_lines(page).first).to_contain_text("64 tokens", timeout=STREAM_TIMEOUT_MS)
    expect(user_messages(page)).to_have_count(1)


# --- 3. every reply says who wrote it ----------------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_replies_name_their_model_precision_and_thinking_mode(page: Page):
    chat_and_wait(page, "From the default model.", max_new_tokens=8)
    expect(metrics_lines(page).last).to_have_text(re.compile(rf"^{DEFAULT_MODEL} · bf16 · (?!thinking)"))
    pick_model(page, "tiny-qwen3")
    chat_and_wait(page, "With thinking.", max_new_tokens=8)
    expect(metrics_lines(page).last).to_have_text(re.compile(r"^tiny-qwen3 · bf16 · thinking on · "))
    with settings(page):
        page.get_by_role("checkbox", name="Thinking", exact=True).uncheck()
    chat_and_wait(page, "Without thinking.", max_new_tokens=8)
    expect(metrics_lines(page).last).to_have_text(re.compile(r"^tiny-qwen3 · bf16 · thinking off · "))


# --- 4. what the user set survives a switch ----------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "phone-dark"], indirect=True)
def test_a_value_the_user_set_survives_a_model_switch_until_reset(page: Page):
    temperature = page.get_by_role("spinbutton", name="number input for Temperature")
    set_slider(page, "Temperature", 1.3)
    pick_model(page, "tiny-qwen3")  # its thinking preset: temperature 0.6, top-p 0.95
    with settings(page):
        expect(page.get_by_role("spinbutton", name="number input for Top-p")).to_have_value("0.95")
        expect(temperature).to_have_value("1.3")
        page.get_by_role("button", name="Reset to the model's preset").click()
        expect(temperature).to_have_value("0.6")
    pick_model(page, DEFAULT_MODEL)  # untouched again: follows the preset
    with settings(page):
        expect(temperature).to_have_value("0.7")


# --- 5. layout: sidebars on a desktop, folded on a phone, light and dark ------------------------------

@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_settings_sit_in_a_sidebar_beside_the_chat(page: Page, request: pytest.FixtureRequest):
    picker_box = model_picker(page).bounding_box()
    chat_box = page.locator("#chatbot").bounding_box()
    assert picker_box["x"] > chat_box["x"] + chat_box["width"] - 5, "the settings are not beside the chat"
    expect(page.get_by_role("radiogroup", name="Chats").or_(page.locator("#chat-list"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollHeight") <= page.viewport_size["height"] + 40
    expect(max_tokens_box(page)).to_have_attribute("max", "4096")  # bounded by the model's window
    shot(page, f"chat-{request.node.callspec.id}")
    open_models_tab(page)
    expect(model_picker(page)).to_be_hidden()  # the chat's sidebars go with the chat


@pytest.mark.parametrize("page", ["phone", "phone-dark"], indirect=True)
def test_on_a_phone_the_sidebars_fold_and_open_on_request(page: Page, request: pytest.FixtureRequest):
    expect(model_picker(page)).not_to_be_in_viewport(timeout=5_000)
    expect(chat_input(page)).to_be_in_viewport()
    page.locator("#settings-sidebar .toggle-button").click()  # the settings, on request
    expect(model_picker(page)).to_be_in_viewport()
    page.wait_for_timeout(600)  # the sidebar slides in
    shot(page, f"chat-{request.node.callspec.id}-settings")
    set_max_new_tokens(page, 8)
    page.locator("#settings-sidebar .toggle-button").click()
    expect(model_picker(page)).not_to_be_in_viewport()
    send(page, "Hello from a phone.")
    expect(metrics_lines(page)).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    expect(metrics_lines(page).first).to_contain_text("8 tokens")
    shot(page, f"chat-{request.node.callspec.id}")


# --- 6. keyboard and labels -----------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_esc_stops_and_the_message_box_keeps_the_focus(page: Page):
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    start_long_reply(page)
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    expect(chat_input(page)).to_be_editable()  # typing goes on while a reply streams
    chat_input(page).press("Escape")
    expect(stop_button(page)).to_be_hidden(timeout=UI_TIMEOUT_MS)
    expect(metrics_lines(page).first).to_contain_text("stopped", timeout=UI_TIMEOUT_MS)
    expect(chat_input(page)).to_be_focused()


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_a_message_typed_during_a_reply_is_sent_when_it_ends(page: Page):
    set_max_new_tokens(page, 200)
    send(page, "The first question.")
    expect(stop_button(page)).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    send(page, "The second, typed meanwhile.")
    expect(page.locator("#queued-hint")).to_contain_text("Sends when this reply ends")
    expect(user_messages(page)).to_have_count(1)
    expect(metrics_lines(page)).to_have_count(2, timeout=STREAM_TIMEOUT_MS * 2)
    expect(user_messages(page)).to_have_text(["The first question.", "The second, typed meanwhile."])
    assert [tokens_in(line) for line in metrics_lines(page).all_inner_texts()] == [200, 200]
    expect(chat_input(page)).to_have_value("")
    expect(chat_input(page)).to_be_focused()


# --- 7. conversations and settings survive a reload -----------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_conversations_and_settings_survive_a_reload(page: Page):
    set_slider(page, "Temperature", 1.25)
    chat_and_wait(page, "Remember this conversation.", max_new_tokens=8)
    chats = page.locator("#chat-list")
    with sidebar_open(page, "chats"):
        expect(chats).to_contain_text("Remember this conversation.")
    page.reload()
    expect(chat_input(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_function("() => document.body.dataset.sidebarsSettled === '1'")
    settle(page, "#chats-sidebar")
    with settings(page):
        expect(page.get_by_role("spinbutton", name="number input for Temperature")).to_have_value("1.25")
    expect(user_messages(page)).to_have_count(0)  # a reload starts a new chat...
    with sidebar_open(page, "chats"):
        chats.get_by_text("Remember this conversation.").click()  # ...and the old one is a click away
    expect(user_messages(page)).to_have_text(["Remember this conversation."])
    expect(metrics_lines(page)).to_have_count(1)

    with sidebar_open(page, "chats"):
        page.locator("#chat-title textarea, #chat-title input").first.fill("Renamed chat")
        page.get_by_role("button", name="Rename", exact=True).click()
        expect(chats).to_contain_text("Renamed chat")
        page.get_by_role("button", name="Delete", exact=True).click()
        expect(chats).not_to_contain_text("Renamed chat")
    expect(user_messages(page)).to_have_count(0)


# --- 8. the picker, the context meter, notices that stay ------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "phone-dark"], indirect=True)
def test_the_picker_shows_size_and_state_and_the_meter_shows_the_window_used(page: Page):
    combo = model_picker(page)
    with settings(page):
        combo.click()
        option = page.get_by_role("option", name=re.compile(r"^Local · 4.46 M · tiny-qwen3 · (fits|loaded) \(bf16\)$"))
        expect(option).to_be_visible()
        combo.press("Escape")
    chat_and_wait(page, "How full is the window?", max_new_tokens=8)
    expect(page.locator("#context-meter")).to_have_text(re.compile(r"Context: [\d,]+ of 4,096 tokens \(\d+%\)"))


@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_dropped_turns_are_said_in_the_conversation(page: Page):
    set_max_new_tokens(page, 8)
    long_message = "alpha beta gamma delta " * 220  # about 2,600 tokens: two of them overflow the window
    chat_and_wait(page, long_message, max_new_tokens=8)
    send(page, long_message)
    expect(conversation(page).get_by_text(re.compile(r"Dropped the 2 oldest messages"))).to_be_visible(
        timeout=STREAM_TIMEOUT_MS)
    expect(metrics_lines(page)).to_have_count(2, timeout=STREAM_TIMEOUT_MS)


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_a_model_that_cannot_load_says_why_in_the_chat(page: Page):
    pick_model(page, BROKEN_MODEL)
    send(page, "Hello?")
    expect(conversation(page).get_by_text(re.compile(rf"Could not load {BROKEN_MODEL} from the folder"))).to_be_visible(
        timeout=STREAM_TIMEOUT_MS)
    expect(chat_input(page)).to_be_editable()


# --- 9. the Models tab -----------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_models_tab_shows_progress_holds_its_buttons_and_keeps_errors_in_place(page: Page):
    open_models_tab(page)
    load = page.locator("#models-load")
    models_tab_action(page, BROKEN_MODEL, "Load")
    status = page.locator("#models-status")
    expect(status).to_contain_text(f"Could not load {BROKEN_MODEL}", timeout=STREAM_TIMEOUT_MS)
    expect(state_cell(page, BROKEN_MODEL)).to_contain_text("failed: Could not load", timeout=UI_TIMEOUT_MS)
    expect(load).to_be_enabled()

    page.evaluate("""() => {
        window.__held = false;
        const button = document.querySelector('#models-load');
        new MutationObserver(() => { if (button.disabled) window.__held = true; })
            .observe(button, {attributes: true});
    }""")
    models_tab_action(page, "tiny-qwen2", "Load", precision="nf4")
    expect(status).to_contain_text("Loaded tiny-qwen2 at nf4", timeout=STREAM_TIMEOUT_MS)
    assert page.evaluate("window.__held"), "Load stayed clickable while loading"
    page.get_by_role("button", name="Unload tiny-qwen2 (nf4)", exact=True).click()
    expect(status).to_contain_text("Unloaded tiny-qwen2 at nf4.")


@pytest.mark.parametrize("page", ["phone"], indirect=True)
def test_models_tab_on_a_phone(page: Page):
    open_models_tab(page)
    table = page.locator("#models-table")
    expect(table).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"the page scrolls sideways ({width} px)"
    shot(page, "models-phone")
