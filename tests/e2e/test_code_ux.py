"""The Code tab in a real browser, over scripted models: the preview's sandbox, Run, fill in the middle."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import STREAM_TIMEOUT_MS, open_tab, shot

pytestmark = pytest.mark.scripted
RUN_TIMEOUT_MS = 30_000


def open_code_tab(page: Page) -> None:
    open_tab(page, "Code")
    expect(page.locator("#code-input textarea")).to_be_visible()


def ask(page: Page, text: str, language: str) -> None:
    combo = page.locator("#code-language").get_by_role("combobox")
    combo.click()
    page.get_by_role("option", name=language, exact=True).click()
    expect(combo).to_have_value(language)
    page.locator("#code-input textarea").fill(text)
    page.locator("#code-send").click()


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_an_html_page_previews_in_a_sandbox_that_cannot_read_the_app(page: Page) -> None:
    open_code_tab(page)
    ask(page, "A page with a button and a counter", "HTML/CSS/JS")
    expect(page.locator("#code-chat")).to_contain_text("index.html", timeout=STREAM_TIMEOUT_MS)
    expect(page.locator("#code-panel")).to_contain_text('<button id="b">+1</button>')
    frame_element = page.locator("#code-preview-frame")
    expect(frame_element).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    assert frame_element.get_attribute("sandbox") == "allow-scripts"
    frame = page.frame_locator("#code-preview-frame")
    expect(frame.locator("#probe")).to_have_text(re.compile(r"^blocked: SecurityError"))  # parent.document threw
    frame.locator("#b").click()
    frame.locator("#b").click()
    expect(frame.locator("#n")).to_have_text("2")  # the page's own script runs
    shot(page, "code-preview")


def test_a_python_file_runs_and_shows_its_output(page: Page) -> None:
    open_code_tab(page)
    ask(page, "Print some squares", "Python")
    run = page.locator("#code-run")
    expect(run).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    run.click()
    output = page.locator("#code-run-output")
    expect(output).to_contain_text("1", timeout=RUN_TIMEOUT_MS)
    expect(output).to_contain_text("9")
    expect(page.locator("#code-run-status")).to_contain_text("exit status 0")
    shot(page, "code-run")


def test_runs_that_loop_forever_or_print_megabytes_end_with_a_message(page: Page) -> None:
    open_code_tab(page)
    ask(page, "Loop forever", "Python")
    expect(page.locator("#code-run")).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    page.locator("#code-run").click()
    expect(page.locator("#code-run-output")).to_contain_text(re.compile("TimeoutError|CPU time"),
                                                             timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#code-run-status")).to_contain_text("exit status 1")
    ask(page, "Print megabytes", "Python")
    expect(page.locator("#code-panel")).to_contain_text("loud.py", timeout=STREAM_TIMEOUT_MS)
    page.locator("#code-run").click()
    expect(page.locator("#code-run-output")).to_contain_text("more characters cut", timeout=RUN_TIMEOUT_MS)


def test_fill_in_the_middle_writes_the_body_in_place(page: Page) -> None:
    open_code_tab(page)
    page.get_by_role("tab", name="Fill in the middle", exact=True).click()
    page.locator("#fim-go").click()
    result = page.locator("#fim-result")
    expect(result).to_contain_text("if n < 2:", timeout=STREAM_TIMEOUT_MS)
    expect(page.locator("#fim-status")).to_contain_text("The middle:")
    lines = result.locator(".cm-line").evaluate_all("lines => lines.map(line => line.textContent)")
    # The gap's edges survive: the signature's newline before the body, the indented return after it.
    assert lines == ["def is_prime(n: int) -> bool:", "    if n < 2:", "        return False", "    return True"], lines


def test_an_example_fills_the_request_and_the_language_and_its_table_shows_words(page: Page) -> None:
    open_code_tab(page)
    examples = page.locator("table").filter(has_text="binary search")
    expect(examples).to_contain_text("Language")  # the header is a word, not a message key
    assert "__i18n__" not in examples.inner_text()
    examples.get_by_text("A small HTML page with a button", exact=False).click()
    expect(page.locator("#code-input textarea")).to_have_value(
        "A small HTML page with a button and a counter that goes up on each click.")
    expect(page.locator("#code-language").get_by_role("combobox")).to_have_value("HTML/CSS/JS")
