"""How many visual tokens an image will cost a Qwen-VL model, before anything is sent.

The image goes through qwen-vl-utils (`fetch_image`: resized so each side is a multiple of
patch x merge pixels, its area between its min and max pixels) and then through the model's own
image processor, which applies its own bounds the same way. One token covers a merge x merge group
of patches: 28 x 28 pixels for Qwen2.5-VL (14-pixel patches), 32 x 32 for Qwen3-VL (16-pixel ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from qwen_vl_utils.vision_process import IMAGE_MAX_TOKEN_NUM, IMAGE_MIN_TOKEN_NUM, smart_resize


@dataclass(frozen=True)
class Grid:
    """The processor's view of the model: patch size, merge size and its own pixel bounds."""

    patch_size: int = 14  # 16 for Qwen3-VL
    merge_size: int = 2
    min_pixels: int | None = None  # the image processor's own bounds (None: none)
    max_pixels: int | None = None

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size


def resized_size(width: int, height: int, grid: Grid, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) the model sees: qwen-vl-utils' resize (up to `max_pixels`), then the processor's."""
    factor = grid.factor
    low = IMAGE_MIN_TOKEN_NUM * factor**2
    high = max_pixels if max_pixels is not None else IMAGE_MAX_TOKEN_NUM * factor**2
    h, w = smart_resize(height, width, factor=factor, min_pixels=low, max_pixels=high)
    if grid.min_pixels is not None or grid.max_pixels is not None:
        h, w = smart_resize(h, w, factor=factor, min_pixels=grid.min_pixels or low, max_pixels=grid.max_pixels or high)
    return w, h


def image_tokens(width: int, height: int, grid: Grid, max_pixels: int | None = None) -> int:
    """Visual tokens for one image of `width` x `height` pixels (the image pad tokens in the prompt)."""
    w, h = resized_size(width, height, grid, max_pixels)
    return (w // grid.factor) * (h // grid.factor)
