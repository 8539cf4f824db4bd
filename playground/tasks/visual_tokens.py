"""How many visual tokens an image or a video will cost a Qwen-VL model, before anything is sent.

Images and video frames are resized by qwen-vl-utils (each side a multiple of patch x merge
pixels, the area between its min and max pixels) and reach the processor with `do_resize=False`,
as Qwen's own recipe does, so the processor keeps qwen-vl-utils' size. One token covers a
merge x merge group of patches: 28 x 28 pixels for Qwen2.5-VL (14-pixel patches), 32 x 32 for
Qwen3-VL (16-pixel ones); a video's frames are also merged in pairs (temporal patch 2).

A video's frames go to qwen-vl-utils as a list of images (see `playground.media`): each frame is
first resized as an image (its `fetch_image`, called with twice the factor), then the whole clip
within the video bounds (at most 768 tokens a frame, and a total-pixels cap shared by the frames).
`video_size` follows those two steps exactly, which is what makes the count equal the processor's.

Pure arithmetic over qwen-vl-utils' own `smart_resize` and constants; no image is opened here.
qwen-vl-utils is imported when first used: it imports torchvision, a second and a half of start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

VIDEO_MIN_TOKENS = 128  # qwen-vl-utils' VIDEO_MIN_TOKEN_NUM: the fewest tokens a frame is given



@dataclass(frozen=True)
class Grid:
    """How a Qwen-VL family cuts pixels into tokens."""

    patch_size: int = 14  # 16 for Qwen3-VL
    merge_size: int = 2
    temporal_patch_size: int = 2

    @property
    def factor(self) -> int:
        """Pixels per token along each side."""
        return self.patch_size * self.merge_size

    @classmethod
    def of(cls, family: str) -> Grid:
        """Qwen3-VL's grid for "qwen3-vl", else Qwen2.5-VL's."""
        return cls(patch_size=16) if family.startswith("qwen3") else cls()


def resized_size(width: int, height: int, grid: Grid, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of an image as the model sees it, resized by qwen-vl-utils up to `max_pixels`."""
    from qwen_vl_utils.vision_process import IMAGE_MAX_TOKEN_NUM, IMAGE_MIN_TOKEN_NUM, smart_resize

    f = grid.factor
    high = max_pixels if max_pixels is not None else IMAGE_MAX_TOKEN_NUM * f**2
    h, w = smart_resize(height, width, factor=f, min_pixels=min(IMAGE_MIN_TOKEN_NUM * f**2, high), max_pixels=high)
    return w, h


def image_tokens(width: int, height: int, grid: Grid, max_pixels: int | None = None) -> int:
    """Visual tokens for one image of `width` x `height` pixels (its image pad tokens in the prompt)."""
    w, h = resized_size(width, height, grid, max_pixels)
    return (w // grid.factor) * (h // grid.factor)


def frame_max_pixels(max_pixels: int, grid: Grid) -> int:
    """The max pixels a video frame may be given: qwen-vl-utils refuses less than its video minimum."""
    return max(max_pixels, int(VIDEO_MIN_TOKENS * grid.factor**2 * 1.05))


def video_size(width: int, height: int, frames: int, grid: Grid, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of each of a video's `frames` frames as the model sees them."""
    from qwen_vl_utils.vision_process import (
        FRAME_FACTOR,
        IMAGE_MAX_TOKEN_NUM,
        IMAGE_MIN_TOKEN_NUM,
        MODEL_SEQ_LEN,
        VIDEO_MAX_TOKEN_NUM,
        ceil_by_factor,
        smart_resize,
    )

    f = grid.factor
    if max_pixels is not None:
        max_pixels = frame_max_pixels(max_pixels, grid)
    # Step 1, each frame as an image: qwen-vl-utils calls fetch_image with the factor as the patch size.
    image_factor = 2 * f
    high = max_pixels if max_pixels is not None else IMAGE_MAX_TOKEN_NUM * image_factor**2
    h, w = smart_resize(height, width, factor=image_factor,
                        min_pixels=min(IMAGE_MIN_TOKEN_NUM * image_factor**2, high), max_pixels=high)
    # Step 2, the clip: at most VIDEO_MAX_TOKEN_NUM tokens a frame, and the total-pixels cap shared out.
    frames = ceil_by_factor(frames, FRAME_FACTOR)
    low = VIDEO_MIN_TOKENS * f**2
    total = MODEL_SEQ_LEN * f**2 * 0.9
    cap = max(min(VIDEO_MAX_TOKEN_NUM * f**2, total / frames * FRAME_FACTOR), int(low * 1.05))
    if max_pixels is not None:
        cap = min(max_pixels, cap)
    h, w = smart_resize(h, w, factor=f, min_pixels=low, max_pixels=cap)
    return w, h


def video_tokens(width: int, height: int, frames: int, grid: Grid, max_pixels: int | None = None) -> int:
    """Visual tokens for `frames` frames of a `width` x `height` video (its video pad tokens in the prompt)."""
    w, h = video_size(width, height, frames, grid, max_pixels)
    pairs = -(-frames // grid.temporal_patch_size)  # an odd count is padded with the last frame
    return pairs * (w // grid.factor) * (h // grid.factor)
