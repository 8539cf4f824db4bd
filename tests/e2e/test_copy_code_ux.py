"""Copy as code in the browser: the fold below the chat shows the script for this page's last reply, and so does
the Code tab's."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import DEFAULT_MODEL, STREAM_TIMEOUT_MS, UI_TIMEOUT_MS, chat_and_wait, open_tab, shot

pytestmark = pytest.mark.e2e


def shown_code(page: Page, fold: str = "chat-copy-code") -> str:
    """Click the button of the fold (its elem_id) and read the code box once it has changed."""
    box = page.locator(f"#{fold}-box")
    before = "\n".join(box.locator(".cm-line").all_text_contents())
    page.locator(f"#{fold}-button").click()
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


@pytest.mark.scripted
def test_the_code_tabs_fold_shows_the_code_for_its_last_request(page: Page) -> None:
    open_tab(page, "Code")
    page.locator("#code-copy-code .label-wrap").click()
    assert shown_code(page, "code-copy-code").startswith("# Nothing was sent here yet")
    page.locator("#code-input textarea").fill("Print some squares")
    page.locator("#code-send").click()
    expect(page.locator("#code-run")).to_be_visible(timeout=STREAM_TIMEOUT_MS)  # the reply has ended
    code = shown_code(page, "code-copy-code")
    shot(page, "code-copy-as-code")
    assert code.startswith("# The code for your last request (scripted-")
    assert "'content': 'Print some squares'" in code and "Write Python" in code
