"""Prompt building with the model's own template, fitting the window in linear time; incremental decoding."""

from __future__ import annotations

import random
from typing import Any

import pytest

from devtools.tiny import build_tokenizer
from playground.backends.local import Detokenizer
from playground.backends.prompt import build_prompt
from playground.errors import InvalidRequestError, PromptTooLongError
from playground.requests import Request


class CountingTemplate:
    """A tokenizer whose chat-template renders are counted (everything else is the real tokenizer's)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.renders = 0

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        self.renders += 1
        return self.tokenizer.apply_chat_template(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.tokenizer(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(*args, **kwargs)


def conversation(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "Be brief."}]
    for i in range(turns):
        messages += [{"role": "user", "content": f"Question {i} about the weather in Paris?"},
                     {"role": "assistant", "content": f"Answer {i}: it is sunny and warm today."}]
    return [*messages, {"role": "user", "content": "And tomorrow?"}]


def test_a_prompt_that_fits_is_rendered_once(qwen3_tokenizer) -> None:
    counting = CountingTemplate(qwen3_tokenizer)
    prompt = build_prompt(counting, conversation(3), thinking=False, budget=10_000)
    expected = qwen3_tokenizer.apply_chat_template(conversation(3), add_generation_prompt=True,
                                                   enable_thinking=False)
    assert prompt.input_ids == expected["input_ids"] and prompt.dropped == 0 and counting.renders == 1
    assert not prompt.opens_thinking


@pytest.mark.parametrize("turns", [50, 500, 2000])
def test_fitting_a_long_conversation_renders_a_few_times_whatever_its_length(qwen3_tokenizer, turns: int) -> None:
    counting = CountingTemplate(qwen3_tokenizer)
    prompt = build_prompt(counting, conversation(turns), thinking=True, budget=300)
    assert prompt.tokens <= 300
    assert counting.renders <= 5  # the first render, the estimate, and a step or two to check it
    text = qwen3_tokenizer.decode(prompt.input_ids)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQuestion ")
    assert text.endswith("<|im_start|>user\nAnd tomorrow?<|im_end|>\n<|im_start|>assistant\n")
    # As many turns as fit are kept: one more would not.
    kept = (len(conversation(turns)) - 2 - prompt.dropped) // 2
    more = build_prompt(qwen3_tokenizer, conversation(turns)[: 1] + conversation(turns)[-(2 * kept + 3):],
                        thinking=True, budget=10_000)
    assert more.tokens > 300


def test_a_refused_long_message_is_dropped_from_the_next_prompt(qwen3_tokenizer) -> None:
    """A message that did not fit stays in the chat, unanswered; the next one must still go through."""
    messages = [{"role": "user", "content": "word " * 400}, {"role": "user", "content": "And a short one."}]
    prompt = build_prompt(qwen3_tokenizer, messages, thinking=None, budget=100)
    assert prompt.dropped == 1
    assert qwen3_tokenizer.decode(prompt.input_ids).startswith("<|im_start|>user\nAnd a short one.")


def test_a_message_that_alone_is_too_long_says_so(qwen3_tokenizer) -> None:
    messages = [*conversation(2)[:-1], {"role": "user", "content": "word " * 400}]
    with pytest.raises(PromptTooLongError, match="leaves room for 100 tokens of prompt"):
        build_prompt(qwen3_tokenizer, messages, thinking=None, budget=100)


def test_a_system_prompt_that_alone_is_too_long_is_named(qwen3_tokenizer) -> None:
    messages = [{"role": "system", "content": "rule " * 400}, {"role": "user", "content": "Hi"}]
    expected = r"^The system prompt is [\d,]+ tokens, and this model's context window leaves room for 100 tokens"
    with pytest.raises(PromptTooLongError, match=expected + r".*Shorten the system prompt"):
        build_prompt(qwen3_tokenizer, messages, thinking=None, budget=100)


@pytest.mark.parametrize(("role", "field"), [("user", "message"), ("system", "system prompt")])
def test_text_that_is_not_valid_unicode_is_refused_naming_its_field(role: str, field: str) -> None:
    messages = [{"role": role, "content": "ab\ud800c"}, {"role": "user", "content": "Hi"}]
    with pytest.raises(InvalidRequestError, match=rf"^The {field} has a character that is not valid text at "
                                                  r"position 2 \(a lone surrogate, '\\ud800'\)"):
        Request("m", messages).validated()


def test_a_template_that_opens_the_thinking_block_is_noticed() -> None:
    # Qwen3-*-Thinking-2507 templates end the prompt with "<think>\n" after the assistant header.
    tokenizer = build_tokenizer("qwen3")
    tokenizer.chat_template += "{%- if add_generation_prompt %}{{- '<think>\\n' }}{%- endif %}"
    assert build_prompt(tokenizer, conversation(1), thinking=True, budget=1000).opens_thinking


@pytest.mark.parametrize("text", [
    pytest.param("Hello, world! 你好，世界。 🙂🚀 é", id="multi_byte"),
    pytest.param("def f(x):\n    return x ** 2\n", id="code"),
])
def test_incremental_decoding_equals_decoding_everything(qwen3_tokenizer, text: str) -> None:
    ids = qwen3_tokenizer.encode(text, add_special_tokens=False)
    detokenizer = Detokenizer(qwen3_tokenizer)
    pieces = [detokenizer.add(token) for token in ids] + [detokenizer.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_incremental_decoding_of_random_ids_equals_decoding_everything(qwen3_tokenizer) -> None:
    rng = random.Random(0)
    ids = [rng.randrange(len(qwen3_tokenizer)) for _ in range(300)]
    detokenizer = Detokenizer(qwen3_tokenizer)
    streamed = "".join(detokenizer.add(token) for token in ids) + detokenizer.flush()
    assert streamed == qwen3_tokenizer.decode(ids, skip_special_tokens=True)
