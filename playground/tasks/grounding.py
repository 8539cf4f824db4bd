"""Grounding: boxes and points a Qwen-VL model writes as JSON, mapped onto the original image.

Asked to find things, Qwen-VL answers with JSON like
`[{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}, {"point_2d": [x, y], "label": "cup"}]`, often
inside a ```` ```json ```` fence. The coordinates are in different spaces by family:

- Qwen2.5-VL: absolute pixels of the image *as the processor resized it* (a multiple of 28 per
  side), so they are scaled by original / resized on each axis;
- Qwen3-VL: relative coordinates from 0 to 1000 on each axis, so they are scaled by size / 1000.

`read_boxes` is pure and never raises on what a model writes: malformed JSON gives no boxes and a
note saying why (words of `locales/en/grounding.toml`), and the caller shows the raw text. Boxes
are clamped to the image and their corners ordered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from playground.i18n import Said

Space = Literal["resized", "relative"]  # Qwen2.5-VL: pixels of the resized input; Qwen3-VL: 0..1000
RELATIVE_SCALE = 1000
_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)


@dataclass(frozen=True)
class Box:
    """A box (x1, y1, x2, y2) or a point (x1 == x2, y1 == y2) in the original image's pixels."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str

    @property
    def is_point(self) -> bool:
        return (self.x1, self.y1) == (self.x2, self.y2)


@dataclass(frozen=True)
class Found:
    boxes: list[Box]
    said: Said | None = None  # why nothing (or not everything) could be read; None when all was read

    @property
    def note(self) -> str:
        """The note in English ("" when all was read); an edge that speaks another language says `said` itself."""
        return str(self.said) if self.said else ""


def space_of(family: str) -> Space:
    """Qwen3-VL answers in relative 0-1000 coordinates; Qwen2.5-VL in pixels of the resized image."""
    return "relative" if family.startswith("qwen3") else "resized"


def detect_prompt(family: str, thing: str) -> str:
    """The question that asks a Qwen-VL model for every `thing` as boxes in JSON, worded as Qwen's cookbooks do.

    Qwen3-VL's 2D-grounding cookbook names categories and asks for bbox coordinates in JSON; Qwen2.5-VL's
    spatial-understanding cookbook asks to locate each one and output the coordinates in JSON format.
    """
    thing = " ".join(thing.split())
    if family.startswith("qwen3"):
        return f'Locate every instance that belongs to the following categories: "{thing}". ' \
               "Report bbox coordinates in JSON format."
    return f"Locate every {thing} in the image, and output their bbox coordinates in JSON format " \
           '(a list of {"bbox_2d": [x1, y1, x2, y2], "label": ...}).'


def _json_part(text: str) -> Any:
    """The JSON in a reply: a fenced block if there is one, else the outermost [...] or {...}."""
    fenced = _FENCED.findall(text)
    candidates = [*fenced, text]
    for candidate in candidates:
        candidate = candidate.strip()
        for opening, closing in (("[", "]"), ("{", "}")):
            start, end = candidate.find(opening), candidate.rfind(closing)
            if start >= 0 and end > start:
                try:
                    return json.loads(candidate[start : end + 1])
                except json.JSONDecodeError:
                    continue
    raise ValueError("no JSON list of boxes in the answer")


def read_boxes(text: str, space: Space, original: tuple[int, int], resized: tuple[int, int] | None = None) -> Found:
    """Boxes and points in `text`, in pixels of the `original` (width, height) image.

    `resized` (width, height) is the size the processor gave the model; needed for Qwen2.5-VL.
    """
    try:
        data = _json_part(text)
    except ValueError:
        return Found([], Said("grounding.no_boxes"))
    items = data if isinstance(data, list) else [data]
    width, height = original
    if space == "relative":
        scale_x, scale_y = width / RELATIVE_SCALE, height / RELATIVE_SCALE
    else:
        if resized is None:
            raise ValueError("pixel coordinates of the resized input need its size")
        scale_x, scale_y = width / resized[0], height / resized[1]
    boxes, skipped = [], 0
    for item in items:
        box = _box(item, scale_x, scale_y, width, height)
        if box is None:
            skipped += 1
        else:
            boxes.append(box)
    if not skipped:
        return Found(boxes)
    return Found(boxes, Said("grounding.skipped_one" if skipped == 1 else "grounding.skipped", {"count": skipped}))


def _box(item: Any, scale_x: float, scale_y: float, width: int, height: int) -> Box | None:
    if not isinstance(item, dict):
        return None
    label = str(item.get("label", "")).strip()
    coords = item.get("bbox_2d", item.get("point_2d"))
    if not isinstance(coords, list | tuple) or len(coords) not in (2, 4):
        return None
    try:
        numbers = [float(c) for c in coords]
    except (TypeError, ValueError):
        return None
    if len(numbers) == 2:
        numbers = numbers * 2
    x1, x2 = sorted((numbers[0] * scale_x, numbers[2] * scale_x))
    y1, y2 = sorted((numbers[1] * scale_y, numbers[3] * scale_y))

    def clamp(value: float, top: int) -> int:
        return int(round(min(max(value, 0), top)))

    return Box(clamp(x1, width), clamp(y1, height), clamp(x2, width), clamp(y2, height), label)
