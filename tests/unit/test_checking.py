"""Final answers checked with math-verify (in its worker process), on solutions as models write them."""

from __future__ import annotations

import pytest

from playground.errors import InvalidRequestError
from playground.tasks.answers import final_answer
from playground.tasks.checking import check, groups, read_expected


@pytest.mark.parametrize(("solution", "expected", "correct"), [
    pytest.param("So $f'(x) = \\boxed{3x^2 + 4x - 5}$.", "4x + 3x^2 - 5", True, id="expression_reordered"),
    pytest.param("The ball costs \\boxed{\\frac{1}{20}} dollars.", "0.05", True, id="frac_vs_decimal"),
    pytest.param("Half: \\boxed{0.5}", "\\frac{1}{2}", True, id="decimal_vs_frac"),
    pytest.param("\\boxed{\\frac{1}{3}}", "0.3333", False, id="rounded_is_not_equal"),
    pytest.param("Roots: $\\boxed{\\{1, 3\\} \\cup \\{2\\}}$", "\\{1,2,3\\}", True, id="sets"),
    pytest.param("$x \\in \\boxed{(0, 1]}$", "(0,1]", True, id="interval"),
    pytest.param("$\\boxed{[0, 1]}$", "(0,1]", False, id="interval_ends_differ"),
    pytest.param("First \\boxed{2}, on reflection \\boxed{3}.", "3", True, id="several_boxes_last_counts"),
    pytest.param("\\boxed{\\sqrt{\\frac{1}{4}}}", "\\frac{1}{2}", True, id="nested_braces"),
    pytest.param("There are 1,000 pears.", "1000", True, id="no_box_last_number"),
    pytest.param("$\\fbox{42}$", "42", True, id="fbox"),
    pytest.param("So $\\boxed 7$.", "7", True, id="boxed_without_braces"),
    pytest.param("The answer is 5.", "6", False, id="wrong"),
])
def test_checked_answers(solution: str, expected: str, correct: bool) -> None:
    assert check(read_expected(expected), final_answer(solution)).correct is correct


def test_no_answer_at_all_cannot_be_checked() -> None:
    verdict = check("3", final_answer("I am not sure."))
    assert verdict.correct is None and verdict.note == "no final answer to check"


@pytest.mark.parametrize("text", ["x^2+", "\\frac{", "))"])
def test_an_unreadable_expected_answer_is_refused_with_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidRequestError, match="Could not read the expected answer.*LaTeX"):
        read_expected(text)


def test_an_empty_expected_answer_means_no_check_and_a_huge_one_is_refused() -> None:
    assert read_expected("  ") is None and read_expected(None) is None and read_expected("$$") is None
    assert read_expected(" $\\frac{1}{2}$ ") == "\\frac{1}{2}"
    with pytest.raises(InvalidRequestError, match="at most 500"):
        read_expected("1" * 501)


def test_equivalent_answers_fall_in_one_group() -> None:
    assert groups(["3", "3.0", "\\frac{6}{2}", "4", "x", "4"]) == [0, 0, 0, 3, 4, 3]
