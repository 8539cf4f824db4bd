"""A reply that goes on from text already written (the Math tab appends a Python block's output, then
the model continues): the model sees the prompt plus that text; events carry only what comes after."""

from __future__ import annotations

import pytest

from playground.catalog import Sampling
from playground.engine import Engine
from playground.requests import Answer, Metrics, PromptText, Request, Thinking, Written
from tests.fakes import scripted_registry

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


def events(engine: Engine, continuation: Written | None, thinking: bool) -> tuple[str, str, str, Metrics]:
    request = Request("scripted-qwen3", QUESTION, Sampling(temperature=0, max_new_tokens=200), thinking=thinking,
                      continuation=continuation)
    out = list(engine.stream(request))
    prompt = next(e.text for e in out if isinstance(e, PromptText))
    thought = "".join(e.text for e in out if isinstance(e, Thinking))
    answer = "".join(e.text for e in out if isinstance(e, Answer))
    return prompt, thought, answer, out[-1]


def test_an_answer_goes_on_after_a_tool_output(scripted) -> None:
    engine, loader = scripted
    written = "Let me compute.\n```python\nprint(2 + 2)\n```\n```output\n4\n```\n"
    loader.decoder("scripted-qwen3").enqueue("So the answer is $\\boxed{4}$.")
    prompt, thought, answer, metrics = events(engine, Written(answer=written), thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n" + written)
    assert thought == "" and answer == "So the answer is $\\boxed{4}$."
    assert metrics.thinking_tokens == 0 and metrics.tokens == len(loader.tokenizer.encode(answer)) + 1


def test_thinking_goes_on_inside_an_open_think_block(scripted) -> None:
    engine, loader = scripted
    thinking = "Let me check with code.\n```python\nprint(2 + 2)\n```\n```output\n4\n```\n"
    loader.decoder("scripted-qwen3").enqueue("It is four.\n</think>\n\n$\\boxed{4}$")
    prompt, thought, answer, metrics = events(engine, Written(thinking=thinking), thinking=True)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n" + thinking)
    assert thought == "It is four." and answer == "$\\boxed{4}$"
    assert 0 < metrics.thinking_tokens < metrics.tokens


def test_no_continuation_is_the_plain_prompt(scripted) -> None:
    engine, _ = scripted
    prompt, *_ = events(engine, None, thinking=True)
    assert prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(("written", "opened_by_prompt", "text"), [
    (Written(answer="2 + 2"), False, "2 + 2"),
    (Written(thinking="hmm"), False, "<think>\nhmm"),
    (Written(thinking="hmm"), True, "hmm"),
    (Written(thinking="hmm", answer="4"), False, "<think>\nhmm\n</think>\n\n4"),
    (Written(thinking="hmm", answer="4"), True, "hmm\n</think>\n\n4"),
    (Written(answer="4"), True, "\n</think>\n\n4"),  # a thinking-only template opened the block; it is closed
])
def test_written_text_as_the_model_wrote_it(written: Written, opened_by_prompt: bool, text: str) -> None:
    assert written.text(opened_by_prompt) == text
