"""The visual-token count before sending equals the image pad tokens the real processor writes (Qwen2.5-VL)."""

from __future__ import annotations

import pytest
from PIL import Image
from qwen_vl_utils import process_vision_info
from transformers import AutoProcessor

from devtools.tiny import build_checkpoint
from playground.tasks.visual_tokens import Grid, image_tokens


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory):
    return AutoProcessor.from_pretrained(build_checkpoint("qwen2_5_vl", tmp_path_factory.mktemp("vl") / "vl"))


def grid_of(processor) -> Grid:
    images = processor.image_processor
    size = getattr(images, "size", None) or {}
    return Grid(images.patch_size, images.merge_size, size.get("shortest_edge"), size.get("longest_edge"))


@pytest.mark.parametrize(("width", "height", "max_pixels"), [
    (300, 200, None), (1920, 1080, 256 * 28 * 28), (37, 901, None), (4000, 3000, None), (640, 480, 50_000),
])
def test_the_count_equals_the_processors_image_pad_tokens(processor, width: int, height: int,
                                                          max_pixels: int | None) -> None:
    image = Image.new("RGB", (width, height), "white")
    part = {"type": "image", "image": image, **({"max_pixels": max_pixels} if max_pixels else {})}
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is this?"}]}]
    images, _ = process_vision_info(messages)
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = processor(text=[text], images=images, return_tensors="pt")["input_ids"][0].tolist()
    pads = ids.count(processor.tokenizer.convert_tokens_to_ids("<|image_pad|>"))
    assert image_tokens(width, height, grid_of(processor), max_pixels) == pads > 0
