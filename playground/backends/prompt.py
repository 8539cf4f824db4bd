"""Turns a request's messages into model inputs with the model's own chat template, fitting its window.

`build_prompt` calls `apply_chat_template(..., tokenize=True, return_dict=True)` on the model's
tokenizer or processor, so a vision processor (images, video) goes down the same path as a
tokenizer. When the conversation is longer than the token budget, the oldest turns go (a user
message together with the replies after it); system messages and the newest message stay.

Fitting is linear in the conversation's length: the whole conversation is rendered once; if it
is too long, each message's text is tokenized once (one batched call) to estimate what dropping
each turn saves, the cut is placed from those estimates, and the result is rendered again to
check; a wrong estimate moves the cut further, by the remaining excess, and checks again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import torch

from playground.errors import InvalidRequestError, PromptTooLongError
from playground.requests import Message, has_media, message_text
from playground.thinking import OPEN

# Tokens a message costs beyond its text: "<|im_start|>role\n" ... "<|im_end|>\n".
MESSAGE_OVERHEAD = 5


@dataclass(frozen=True)
class Prompt:
    input_ids: list[int]
    model_inputs: dict[str, Any] = field(default_factory=dict)  # pixel_values and the like, for vision models
    dropped: int = 0  # messages dropped to fit the window
    opens_thinking: bool = False  # the template itself opened a <think> block

    @property
    def tokens(self) -> int:
        return len(self.input_ids)


def tokenizer_of(processor: Any) -> Any:
    """Vision models come with a processor that wraps the tokenizer."""
    return getattr(processor, "tokenizer", processor)


def template_messages(messages: Sequence[Message], vision: bool) -> list[dict[str, Any]]:
    """Messages as the template takes them: text models get plain strings (their templates read only strings)."""
    out = []
    for message in messages:
        if not vision and has_media(message):
            raise InvalidRequestError("This model reads text only: pick a vision model (Qwen-VL) for images and video.")
        content = message["content"] if vision else message_text(message)
        out.append({"role": message["role"], "content": content})
    return out


def render(processor: Any, messages: list[dict[str, Any]], thinking: bool | None) -> dict[str, Any]:
    kwargs = {} if thinking is None else {"enable_thinking": thinking}
    encoded = processor.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=True, return_tensors="pt", **kwargs
    )
    return dict(encoded)


def build_prompt(
    processor: Any, messages: Sequence[Message], thinking: bool | None, budget: int, vision: bool = False
) -> Prompt:
    """The prompt for `messages`, dropping the oldest turns until it is at most `budget` tokens."""
    messages = template_messages(messages, vision)
    system = [m for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    # A turn starts at a user message; the newest message always stays.
    starts = [i for i, m in enumerate(turns) if m["role"] == "user" and i > 0]
    cut = 0  # index into `turns` of the first kept message
    encoded = render(processor, system + turns, thinking)
    n = encoded["input_ids"].shape[-1]
    if n > budget:
        sizes = _message_sizes(processor, turns)
        saved = [0, *accumulate(sizes)]  # saved[i]: tokens saved by dropping turns[:i]
        while n > budget:
            excess = n - budget
            later = [s for s in starts if s > cut and saved[s] - saved[cut] >= excess]
            following = [s for s in starts if s > cut]
            if not following:
                raise PromptTooLongError(
                    f"The message is {n} tokens with the template, but this model's context window "
                    f"leaves room for {budget} tokens of prompt (after reserving the new tokens). "
                    "Shorten the message or lower Max new tokens."
                )
            cut = later[0] if later else following[-1]
            encoded = render(processor, system + turns[cut:], thinking)
            n = encoded["input_ids"].shape[-1]
    ids = encoded.pop("input_ids")[0].tolist()
    encoded.pop("attention_mask", None)
    tail = tokenizer_of(processor).decode(ids[-4:], skip_special_tokens=False)
    return Prompt(input_ids=ids, model_inputs=encoded, dropped=cut, opens_thinking=tail.rstrip().endswith(OPEN))


def _message_sizes(processor: Any, messages: list[dict[str, Any]]) -> list[int]:
    """Estimated prompt tokens of each message: its text, tokenized once, plus the template's markers."""
    texts = [message_text(m) for m in messages]
    counts = tokenizer_of(processor)(texts, add_special_tokens=False)["input_ids"] if texts else []
    return [len(c) + MESSAGE_OVERHEAD for c in counts]


def as_tensor(ids: list[int], device: torch.device | str) -> torch.Tensor:
    return torch.tensor([ids], dtype=torch.long, device=device)
