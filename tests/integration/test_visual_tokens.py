"""The visual-token count before sending equals the pad tokens in the processor's output, for both families.

The prompt is built the way the app builds it (`build_prompt`: files checked and decoded by
`playground.media`, resized by qwen-vl-utils, then the model's processor), and the count comes
from `playground.tasks.visual_tokens` given only the file's size, as the Vision tab shows it.
"""

from __future__ import annotations

import pytest
from transformers import AutoProcessor

from devtools.tiny import build_checkpoint
from playground.backends.prompt import build_prompt, grid_of
from playground.media import probe
from playground.tasks.visual_tokens import Grid, image_tokens, video_tokens
from tests.media import write_image, write_video

FAMILIES = {"qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl"}


@pytest.fixture(scope="module", params=list(FAMILIES))
def processor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = build_checkpoint(request.param, tmp_path_factory.mktemp(request.param) / "vl")
    return request.param, AutoProcessor.from_pretrained(folder)


def pads(processor, part: dict, token: str) -> int:
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is this?"}]}]
    prompt = build_prompt(processor, messages, None, budget=100_000, grid=grid_of(processor))
    return prompt.input_ids.count(processor.tokenizer.convert_tokens_to_ids(token))


def test_the_loaded_processor_has_the_familys_grid(processor) -> None:
    arch, loaded = processor
    assert grid_of(loaded) == Grid.of(FAMILIES[arch])


@pytest.mark.parametrize(("width", "height", "max_pixels"), [
    (300, 200, None), (1920, 1080, 256 * 28 * 28), (37, 901, None), (4000, 3000, None), (640, 480, 50_000),
])
def test_image_count_equals_the_processors_image_pads(processor, tmp_path, width: int, height: int,
                                                      max_pixels: int | None) -> None:
    arch, loaded = processor
    path = write_image(tmp_path / "image.png", (width, height))
    part = {"type": "image", "image": str(path), **({"max_pixels": max_pixels} if max_pixels else {})}
    expected = image_tokens(width, height, Grid.of(FAMILIES[arch]), max_pixels)
    assert pads(loaded, part, "<|image_pad|>") == expected > 0


@pytest.mark.parametrize(("seconds", "fps", "size", "sample_fps", "max_frames", "max_pixels"), [
    (2.0, 10, (160, 120), 2.0, 64, None),
    (3.0, 10, (320, 180), 4.0, 8, 200_000),
    (1.2, 25, (200, 300), 2.0, 64, 50_000),  # below the video minimum: raised to it, as qwen-vl-utils needs
])
def test_video_count_equals_the_processors_video_pads(processor, tmp_path, seconds, fps, size, sample_fps,
                                                      max_frames, max_pixels) -> None:
    arch, loaded = processor
    info = probe(write_video(tmp_path / "clip.mp4", seconds, fps, size))
    part = {"type": "video", "video": str(tmp_path / "clip.mp4"), "fps": sample_fps, "max_frames": max_frames,
            **({"max_pixels": max_pixels} if max_pixels else {})}
    frames = info.sampled(sample_fps, max_frames)
    expected = video_tokens(info.width, info.height, frames, Grid.of(FAMILIES[arch]), max_pixels)
    assert pads(loaded, part, "<|video_pad|>") == expected > 0
