"""Final-answer extraction and comparison, as tables of edge cases."""

from __future__ import annotations

import pytest

from playground.tasks.answers import boxed, final_answer, last_number, same_answer


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("So the answer is \\boxed{42}.", "42", id="simple"),
    pytest.param("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", id="nested_braces"),
    pytest.param("First \\boxed{1}, then \\boxed{2}", "2", id="last_box"),
    pytest.param("\\boxed{3} and then \\boxed{4", "3", id="unclosed_last_box"),
    pytest.param("no box here", None, id="no_box"),
    pytest.param("so $\\boxed 5$.", "5", id="no_braces"),
    pytest.param("\\fbox{\\sqrt{2}}", "\\sqrt{2}", id="fbox"),
    pytest.param("\\boxed{1} then \\fbox{2}", "2", id="fbox_last"),
    pytest.param("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}", id="set_braces_escaped"),
    pytest.param("\\boxeds{3}", None, id="not_a_box_command"),
])
def test_boxed(text: str, expected: str | None) -> None:
    assert boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("There are 3 r's in strawberry.", "3", id="one_number"),
    pytest.param("12 apples, 1,000 pears, total -4.5", "-4.5", id="last_with_sign"),
    pytest.param("That is 1,000.", "1000", id="thousands"),
    pytest.param("none", None, id="no_number"),
])
def test_last_number(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    pytest.param("\\boxed{3}", "The answer is 3.", True, id="box_vs_number"),
    pytest.param("It is 0.50", "0.5", True, id="decimal_forms"),
    pytest.param("\\boxed{x+1}", "\\boxed{ x+1 }", True, id="spaces"),
    pytest.param("3", "4", False, id="differ"),
    pytest.param("no answer", "4", None, id="missing"),
])
def test_same_answer(a: str, b: str, expected: bool | None) -> None:
    assert same_answer(final_answer(a), final_answer(b)) is expected
