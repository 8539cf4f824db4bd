"""Turns a request's messages into model inputs with the model's own chat template, fitting its window.

`build_prompt` calls `apply_chat_template(..., tokenize=True, return_dict=True)` on the model's
tokenizer or processor, so a vision processor (images, video) goes down the same path as a
tokenizer. When the conversation is longer than the token budget, the oldest turns go (a user
message together with the replies after it); system messages and the newest message stay.

Fitting is linear in the conversation's length: the whole conversation is rendered once; if it
is too long, each message's text is tokenized once (one batched call) to estimate what dropping
each turn saves, the cut is placed from those estimates, and the result is rendered again to
check. An estimate that fell short moves the cut on by the remaining excess; one that overshot
steps back a turn at a time while the prompt still fits, so as many turns as fit are kept. With
the template's per-message cost measured from the first render, that is two or three renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

import torch

from playground.errors import InvalidRequestError, PromptTooLongError
from playground.media import DEFAULT_FPS, DEFAULT_MAX_FRAMES, open_image, read_video
from playground.requests import Message, has_media, message_text
from playground.tasks.thinking import OPEN
from playground.tasks.visual_tokens import Grid, frame_max_pixels


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


def grid_of(processor: Any) -> Grid:
    """How the loaded processor cuts pixels into tokens."""
    images = processor.image_processor
    return Grid(images.patch_size, images.merge_size, getattr(images, "temporal_patch_size", 2))


def template_messages(messages: Sequence[Message], vision: bool) -> list[dict[str, Any]]:
    """Messages as the template takes them: text models get plain strings (their templates read only strings)."""
    out = []
    for message in messages:
        if not vision and has_media(message):
            raise InvalidRequestError("prompt.text_only")
        content = message["content"] if vision else message_text(message)
        out.append({"role": message["role"], "content": content})
    return out


def render(processor: Any, messages: list[dict[str, Any]], thinking: bool | None,
           grid: Grid | None = None) -> dict[str, Any]:
    kwargs = {} if thinking is None else {"enable_thinking": thinking}
    if grid is not None and any(has_media(m) for m in messages):
        return _render_media(processor, messages, kwargs, grid)
    encoded = processor.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=True, return_tensors="pt", **kwargs
    )
    return dict(encoded)


def _render_media(processor: Any, messages: list[dict[str, Any]], kwargs: dict[str, Any], grid: Grid) -> dict[str, Any]:
    """Qwen's recipe: the template's text, qwen-vl-utils' resized images and frames, the processor unresized."""
    from qwen_vl_utils import process_vision_info  # imports torchvision: only when an image comes

    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
    images, videos, video_kwargs = process_vision_info(
        messages, return_video_kwargs=True, return_video_metadata=True, image_patch_size=grid.patch_size
    )
    if videos:  # (frames, metadata) pairs: the metadata gives the frame rate and each frame's time
        videos, metadata = map(list, zip(*videos, strict=True))
        video_kwargs["video_metadata"] = metadata
    return dict(processor(text=[text], images=images, videos=videos, do_resize=False, return_tensors="pt",
                          **video_kwargs))


def build_prompt(
    processor: Any, messages: Sequence[Message], thinking: bool | None, budget: int, grid: Grid | None = None
) -> Prompt:
    """The prompt for `messages`, dropping the oldest turns until it is at most `budget` tokens.

    `grid` is given for vision models: their messages' images and videos (files, checked and
    decoded by `playground.media`) become pixel values, resized by qwen-vl-utils.
    """
    messages = template_messages(messages, grid is not None)
    if grid is not None:
        messages = [{"role": m["role"], "content": media_parts(m["content"], grid)} for m in messages]
    system = [m for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    # A turn starts at a user message; the newest message always stays. `cut` indexes `turns`:
    # the first message kept.
    starts = [0, *(i for i, m in enumerate(turns) if m["role"] == "user" and i > 0)]

    def fit(cut: int) -> tuple[dict[str, Any], int]:
        encoded = render(processor, system + turns[cut:], thinking, grid)
        return encoded, encoded["input_ids"].shape[-1]

    cut = 0
    encoded, n = fit(cut)
    if n > budget:
        saved = _savings(processor, messages, n)
        while n > budget:  # drop at least one more turn, as many as the estimate says are needed
            later = [s for s in starts if s > cut]  # its last is the newest turn, which always stays
            if not later:
                raise _too_long(processor, system, n, budget, grid is not None)
            enough = [s for s in later if saved[s] - saved[cut] >= n - budget]
            cut = enough[0] if enough else later[-1]
            encoded, n = fit(cut)
        while (earlier := [s for s in starts if s < cut]):  # an estimate that overshot: keep what still fits
            more, m = fit(earlier[-1])
            if m > budget:
                break
            cut, encoded, n = earlier[-1], more, m
    ids = encoded.pop("input_ids")[0].tolist()
    encoded.pop("attention_mask", None)
    tail = tokenizer_of(processor).decode(ids[-4:], skip_special_tokens=False)
    return Prompt(input_ids=ids, model_inputs=encoded, dropped=cut, opens_thinking=tail.rstrip().endswith(OPEN))


def media_parts(content: str | Sequence[Any], grid: Grid) -> str | list[Any]:
    """Content whose image and video files are decoded: an image as RGB, a video as the frames the model sees.

    A part keeps qwen-vl-utils' options (`max_pixels`; `fps` and `max_frames` for a video). A video
    becomes a list of frames with their rate (`sample_fps`, and `raw_fps` the same, so Qwen3-VL's
    frame times are seconds from the start). Parts that already hold decoded images stay as they are.
    """
    if isinstance(content, str):
        return content
    out = []
    for part in content:
        if part.get("type") == "image" and isinstance(part.get("image"), str | Path):
            part = {**part, "image": open_image(part["image"])}
        elif part.get("type") == "video" and isinstance(part.get("video"), str | Path):
            options = {k: v for k, v in part.items() if k not in ("type", "video", "fps", "max_frames")}
            frames = read_video(part["video"], part.get("fps", DEFAULT_FPS), part.get("max_frames", DEFAULT_MAX_FRAMES))
            if "max_pixels" in options:
                options["max_pixels"] = frame_max_pixels(options["max_pixels"], grid)
            part = {**options, "type": "video", "video": frames.images, "sample_fps": frames.fps,
                    "raw_fps": frames.fps}
        out.append(part)
    return out


def _too_long(processor: Any, system: list[dict[str, Any]], n: int, budget: int, vision: bool) -> PromptTooLongError:
    """Why the newest message cannot fit, naming the part that is too long (the system prompt, or the message)."""
    system_tokens = sum(len(ids) for ids in tokenizer_of(processor)(
        [message_text(m) for m in system], add_special_tokens=False)["input_ids"]) if system else 0
    if system_tokens > n - system_tokens:
        return PromptTooLongError("prompt.system_too_long", tokens=system_tokens, room=budget)
    return PromptTooLongError("prompt.media_too_long" if vision else "prompt.message_too_long", tokens=n, room=budget)


def continued(prompt: Prompt, ids: list[int], in_thinking: bool) -> Prompt:
    """The prompt with the start of the reply (`ids`) after it; `in_thinking`: that start leaves a think block open."""
    return replace(prompt, input_ids=prompt.input_ids + ids, opens_thinking=in_thinking) if ids else prompt


def _savings(processor: Any, messages: list[dict[str, Any]], total: int) -> list[int]:
    """saved[i]: estimated prompt tokens saved by dropping the first i non-system messages.

    Each message's text is tokenized once (one batched call); what the template adds around
    each message is measured from the whole prompt: its tokens beyond all texts, per message.
    """
    counts = [len(ids) for ids in tokenizer_of(processor)([message_text(m) for m in messages],
                                                          add_special_tokens=False)["input_ids"]]
    overhead = max(total - sum(counts), 0) / len(messages)
    sizes = [count for count, m in zip(counts, messages, strict=True) if m["role"] != "system"]
    return [0, *accumulate(round(size + overhead) for size in sizes)]


def as_tensor(ids: list[int], device: torch.device | str) -> torch.Tensor:
    return torch.tensor([ids], dtype=torch.long, device=device)
