"""Copy as code in the browser: the fold below the chat shows the script for this page's last reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import DEFAULT_MODEL, UI_TIMEOUT_MS, chat_and_wait, shot

pytestmark = pytest.mark.e2e


def shown_code(page: Page) -> str:
    """Click the button and read the code box once it has changed."""
    box = page.locator("#chat-copy-code-box")
    before = "\n".join(box.locator(".cm-line").all_text_contents())
    page.locator("#chat-copy-code-button").click()
    expect(box.locator(".cm-line").first).not_to_have_text(before.split("\n")[0] if before else "",
                                                           timeout=UI_TIMEOUT_MS)
    return "\n".join(box.locator(".cm-line").all_text_contents())


def test_the_fold_below_the_chat_shows_the_code_for_the_last_reply(page: Page) -> None:
    page.locator("#chat-copy-code .label-wrap").click()
    assert shown_code(page).startswith("# Nothing was sent here yet")
    chat_and_wait(page, "Hello from the browser", max_new_tokens=8)
    code = shown_code(page)
    shot(page, "copy-as-code")
    assert code.startswith(f"# The code for your last request ({DEFAULT_MODEL} at bf16)")
    assert "from transformers import AutoModelForCausalLM, AutoTokenizer" in code
    assert "'content': 'Hello from the browser'" in code and "max_new_tokens=8" in code
