"""The Qwen3 thinking splitter, as a table of edge cases, whole and chunked."""

from __future__ import annotations

import pytest

from playground.tasks.thinking import EARLY_STOP, ThinkingBudget, ThinkingSplitter, split_thinking

CASES = [
    pytest.param("Hello there.", False, "", "Hello there.", True, id="no_think_block"),
    pytest.param("<think>\n\n</think>\n\nHi!", False, "", "Hi!", True, id="empty_think_block"),
    pytest.param("<think>\nLet me add 2 and 2.\n</think>\n\n4", False, "Let me add 2 and 2.", "4", True,
                 id="full_block"),
    pytest.param("<think>\nI wonder whether", False, "I wonder whether", "", False, id="truncated_thinking"),
    pytest.param("<think>", False, "", "", False, id="only_open_tag"),
    pytest.param("Step one.\n</think>\n\nDone.", True, "Step one.", "Done.", True, id="prompt_opened_block"),
    pytest.param("still thinking", True, "still thinking", "", False, id="prompt_opened_block_truncated"),
    pytest.param("\n<think>\nx\n</think>\ny", False, "x", "y", True, id="leading_newline_before_tag"),
    pytest.param("<think>\na\n\nb\n</think>\n\nc\n\nd", False, "a\n\nb", "c\n\nd", True, id="inner_whitespace_kept"),
    pytest.param("Use <think> tags like this.", False, "", "Use <think> tags like this.", True,
                 id="tag_after_answer_started_is_text"),
    pytest.param("<think>a</think>b</think>c", False, "a", "b</think>c", True, id="second_close_is_text"),
    pytest.param("<thinking>no</thinking>", False, "", "<thinking>no</thinking>", True, id="lookalike_tag"),
    pytest.param("", False, "", "", True, id="empty_output"),
]


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


@pytest.mark.parametrize(("text", "in_thinking", "thinking", "answer", "finished"), CASES)
def test_split_whole(text: str, in_thinking: bool, thinking: str, answer: str, finished: bool) -> None:
    split = split_thinking(text, in_thinking=in_thinking)
    assert (split.thinking, split.answer, split.finished) == (thinking, answer, finished)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
@pytest.mark.parametrize(("text", "in_thinking", "thinking", "answer", "finished"), CASES)
def test_split_streamed_in_chunks(
    text: str, in_thinking: bool, thinking: str, answer: str, finished: bool, size: int
) -> None:
    """Streaming gives the whole-text result: a tag fragment that leaked would show up in it."""
    splitter = ThinkingSplitter(in_thinking)
    thoughts, answers = [], []
    for chunk in chunked(text, size):
        t, a = splitter.feed(chunk)
        thoughts.append(t)
        answers.append(a)
    t, a = splitter.flush()
    assert ("".join(thoughts) + t, "".join(answers) + a) == (thinking, answer)


def test_thinking_streams_before_block_closes() -> None:
    """Thinking text is shown as it arrives, not only when `</think>` comes."""
    splitter = ThinkingSplitter()
    assert splitter.feed("<think>\nFirst") == ("First", "")
    assert splitter.feed(" idea. </th") == (" idea.", "")  # trailing space waits for what follows
    assert splitter.feed("ink>\n\nAnswer") == ("", "Answer")
    assert splitter.finished


def test_answer_mode_after_close_passes_text_through() -> None:
    splitter = ThinkingSplitter(in_thinking=True)
    splitter.feed("x</think>")
    assert splitter.feed("a<") == ("", "a<")


# --- the thinking budget ---------------------------------------------------------------------------

OPEN_ID, CLOSE_ID = 1, 2
STOP = [7, 8, CLOSE_ID]  # stands for EARLY_STOP, tokenized


def write(budget: ThinkingBudget, model_tokens: list[int], steps: int) -> list[int]:
    """What gets written in `steps` steps: a forced token where the budget says so, else the model's next."""
    written, wants = [], iter(model_tokens)
    for _ in range(steps):
        token = budget.forced()
        if token is None:
            token = next(wants)
        budget.observe(token)
        written.append(token)
    return written


@pytest.mark.parametrize(
    ("thinking", "limit", "model", "expected", "cut"),
    [
        pytest.param(False, 3, [OPEN_ID, 5, 5, 5, 5, 5, 5, 5], [OPEN_ID, 5, 5, 5, 7, 8, CLOSE_ID, 5], True,
                     id="hybrid_cut_after_three"),
        pytest.param(True, 3, [5, 5, 5, 5, 5, 5, 5], [5, 5, 5, 7, 8, CLOSE_ID, 5], True, id="thinking_only_cut"),
        pytest.param(False, 5, [OPEN_ID, 5, 5, CLOSE_ID, 6, 6], [OPEN_ID, 5, 5, CLOSE_ID, 6, 6], False,
                     id="closed_within_the_limit"),
        pytest.param(False, 2, [6, 6, 6, 6], [6, 6, 6, 6], False, id="no_block_at_all"),
        pytest.param(True, 0, [5, 5], [7, 8, CLOSE_ID, 5, 5], True, id="zero_budget_thinking_only"),
        pytest.param(False, 2, [OPEN_ID, 5, 5, 6, OPEN_ID, 6], [OPEN_ID, 5, 5, 7, 8, CLOSE_ID], True,
                     id="hybrid_cut_after_two"),
    ],
)
def test_thinking_budget(thinking, limit, model, expected, cut) -> None:
    budget = ThinkingBudget(limit, OPEN_ID, CLOSE_ID, STOP, thinking=thinking)
    assert write(budget, model, len(expected)) == expected
    assert budget.cut is cut and budget.used <= limit


def test_the_early_stop_sentence_is_qwens() -> None:
    assert EARLY_STOP == ("\n\nConsidering the limited time by the user, I have to give the solution based on the "
                          "thinking directly now.\n</think>\n\n")
