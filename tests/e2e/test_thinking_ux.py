"""The Thinking tab in a real browser: two columns on one prompt, Stop, the inspector, the budget, bad input.

The left column runs the thinking-only tiny model (its template opens <think>, so all it writes is
thinking until a budget cuts in) or the hybrid one; the right runs the hybrid tiny Qwen3 with thinking off.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import (
    DEFAULT_MODEL,
    STREAM_TIMEOUT_MS,
    THINKING_MODEL,
    column_chat,
    column_figures,
    column_text,
    compare,
    figure,
    inspector_text,
    open_thinking_tab,
    pick_column_model,
    shot,
)

# Both columns have loaded their model and written something, and neither has ended (no figures yet).
BOTH_STREAMING = """() => ['left', 'right'].every(side => {
    const text = document.querySelector(`#thinking-${side}-chat [role="log"]`)?.textContent ?? '';
    return text.trim().length > 20 && !text.includes('Loading')
        && !document.querySelector(`#thinking-${side}-figures dl`);
})"""


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_both_columns_stream_at_once_and_stop_stops_both(page: Page) -> None:
    open_thinking_tab(page)
    pick_column_model(page, "left", THINKING_MODEL)
    expect(page.get_by_text("Always thinks.")).to_be_visible()  # a thinking-only model has no switch
    expect(page.locator("#thinking-left-switch")).to_be_hidden()
    compare(page, "How many r in strawberry?", max_new_tokens=4000)
    page.wait_for_function(BOTH_STREAMING, timeout=STREAM_TIMEOUT_MS)
    shot(page, "thinking-streaming")
    page.locator("#thinking-stop").click()
    for side in ("left", "right"):
        expect(column_figures(page, side).locator("dl")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
        expect(column_chat(page, side).get_by_text(re.compile(r"· stopped"))).to_be_visible()
        tokens = int(figure(page, side, "Thinking tokens" if side == "left" else "Answer tokens"))
        assert 0 < tokens < 4000
    expect(column_chat(page, "left").get_by_text("Thinking", exact=True)).to_be_visible()
    shot(page, "thinking-stopped")


@pytest.mark.parametrize("page", ["desktop", "dark"], indirect=True)
def test_the_inspector_shows_the_empty_think_block_on_the_off_side(page: Page) -> None:
    open_thinking_tab(page)
    compare(page, "Is 17 prime?", max_new_tokens=12)
    for side in ("left", "right"):
        expect(column_figures(page, side).locator("dl")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    expect(page.locator("#thinking-comparison")).to_contain_text("Thinking (left) cost")
    off = inspector_text(page, "right")
    assert off.rstrip().endswith("<|im_start|>assistant\n<think>\n\n</think>"), off
    on = inspector_text(page, "left")
    assert on.rstrip().endswith("<|im_start|>assistant") and "</think>" not in on, on
    shot(page, "thinking-inspector")


def test_a_budget_cuts_the_thinking_and_the_column_says_so(page: Page) -> None:
    open_thinking_tab(page)
    pick_column_model(page, "left", THINKING_MODEL)
    compare(page, "How many r in strawberry?", max_new_tokens=120, budget=5)
    figures = column_figures(page, "left")
    expect(figures).to_contain_text("The thinking budget cut the thinking short.", timeout=STREAM_TIMEOUT_MS)
    expect(column_figures(page, "right").locator("dl")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    expect(column_figures(page, "right")).not_to_contain_text("budget")


def test_bad_input_gets_a_clear_message_in_each_column(page: Page) -> None:
    open_thinking_tab(page)
    page.locator("#thinking-send").click()  # no prompt
    for side in ("left", "right"):
        expect(column_chat(page, side)).to_contain_text("Type a prompt first.")
    compare(page, "Hello", max_new_tokens=24, budget=50)  # a budget over max new tokens: only the thinking side
    expect(column_chat(page, "left")).to_contain_text("must be less than Max new tokens", timeout=STREAM_TIMEOUT_MS)
    expect(column_figures(page, "right").locator("dl")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    assert "Max new tokens" not in column_text(page, "right")
    pick_column_model(page, "left", DEFAULT_MODEL)  # a model that does not think: no switch, and it says so
    expect(page.locator("#thinking-left-switch")).to_be_hidden()
    expect(page.get_by_text("Never thinks.")).to_be_visible()
