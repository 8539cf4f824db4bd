"""The Math tab in a real browser, over scripted models (a random model never writes a \\boxed{} answer).

The scripted model adds 3 + 4: two samples in three say 7, the third 8; asked for Python, it writes
a block that the tab runs in its sandbox, then answers from the output.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import STREAM_TIMEOUT_MS, open_tab, shot, type_number

pytestmark = pytest.mark.scripted


def open_math_tab(page: Page) -> None:
    open_tab(page, "Math")
    expect(page.locator("#math-problem textarea")).to_be_visible()


def solve(page: Page, problem: str, expected: str = "", samples: int = 1, mode: str | None = None) -> None:
    page.locator("#math-problem textarea").fill(problem)
    page.locator("#math-expected textarea").fill(expected)
    if mode is not None:
        page.locator("#math-mode").get_by_text(mode).click()
    type_number(page, page.locator("#math-samples input[type=number]"), samples)
    page.locator("#math-solve").click()


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_a_vote_shows_the_boxed_answer_its_check_and_a_chart(page: Page) -> None:
    open_math_tab(page)
    solve(page, "What is 3 + 4?", expected="7", samples=6)
    answer = page.locator("#math-answer")
    expect(answer).to_contain_text("samples give this answer", timeout=STREAM_TIMEOUT_MS)
    expect(answer.locator(".katex-display")).to_contain_text("7")  # the boxed answer, rendered by KaTeX
    expect(answer).to_contain_text("✓ Correct")
    chart = page.locator("#math-votes")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas, svg").first).to_be_visible()
    expect(page.locator("#math-solution")).to_contain_text("So the answer is")
    picker = page.locator("#math-sample").get_by_role("combobox")
    expect(picker).to_have_value(re.compile(r"^Sample \d+ · 7$"))
    shot(page, "math-vote")
    picker.click()  # open another sample: the one that says 8
    page.get_by_role("option", name=re.compile(r"· 8$")).first.click()
    expect(page.locator("#math-solution")).to_contain_text("= 8")


def test_python_runs_in_the_sandbox_and_shows_folded_with_its_output(page: Page) -> None:
    open_math_tab(page)
    solve(page, "What is 3 + 4?", expected="7", mode="With Python (TIR)")
    solution = page.locator("#math-solution")
    expect(solution).to_contain_text("The code printed the sum", timeout=STREAM_TIMEOUT_MS)
    block = solution.get_by_text("Python (1)")
    expect(block).to_be_visible()
    block.click()  # unfold: the code and what it printed
    expect(solution).to_contain_text("print(3 + 4)")
    expect(solution.locator("code").filter(has_text=re.compile(r"^\s*7\s*$"))).to_have_count(1)
    expect(page.locator("#math-answer")).to_contain_text("✓ Correct")
    shot(page, "math-tir")


def test_bad_input_gets_a_clear_message(page: Page) -> None:
    open_math_tab(page)
    page.locator("#math-solve").click()
    expect(page.locator("#math-solution")).to_contain_text("Type a problem first.")
    solve(page, "What is 3 + 4?", expected="x^2+")
    expect(page.locator("#math-solution")).to_contain_text("Could not read the expected answer")
