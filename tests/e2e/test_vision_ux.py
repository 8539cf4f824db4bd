"""The Vision tab in a real browser: an upload streams a reply from a real tiny Qwen-VL; over scripted models,
Detect draws the boxes and bad files are answered with what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from playground.tasks.visual_tokens import Grid, image_tokens
from tests.e2e.pages import METRICS, STREAM_TIMEOUT_MS, open_tab, shot, type_number
from tests.media import write_image

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def open_vision_tab(page: Page) -> None:
    open_tab(page, "Vision")
    expect(page.locator("#vision-input textarea")).to_be_visible()


def attach(page: Page, *files: Path) -> None:
    page.locator("#vision-input input[type=file]").set_input_files([str(f) for f in files])


def pick(page: Page, key: str) -> None:
    combo = page.locator("#vision-model").get_by_role("combobox")
    combo.click()
    page.get_by_role("option", name=re.compile(rf"· {re.escape(key)} ·")).click()


def chat(page: Page):
    return page.locator("#vision-chat")


def test_an_uploaded_image_gets_a_streamed_reply_from_a_tiny_qwen3_vl(page: Page, tmp_path: Path) -> None:
    open_vision_tab(page)
    pick(page, "tiny-qwen3-vl")
    page.locator("#vision-sampling .label-wrap").click()
    type_number(page, page.locator("#vision-max-new-tokens input"), 48)
    attach(page, write_image(tmp_path / "white.png", (640, 480)))
    tokens = image_tokens(640, 480, Grid.of("qwen3-vl"), 1_000_000)
    budget = page.locator("#vision-budget")
    expect(budget).to_contain_text(f"Fits: {tokens:,} visual tokens")  # before anything is sent
    expect(budget).to_contain_text("white.png")
    page.locator("#vision-input textarea").fill("What is in this picture?")
    page.locator("#vision-send").click()
    bot = chat(page).locator(".message.bot").first
    expect(bot).to_have_text(re.compile(r"\S"), timeout=STREAM_TIMEOUT_MS)  # the answer streams in
    expect(chat(page)).to_contain_text(METRICS, timeout=STREAM_TIMEOUT_MS)
    assert "48 tokens" in chat(page).inner_text()  # random weights write to max new tokens
    expect(chat(page).locator("img").first).to_be_visible()  # the uploaded image is in the conversation
    shot(page, "vision-reply")


@pytest.mark.scripted
@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_detect_draws_a_box_around_each_apple(page: Page) -> None:
    open_vision_tab(page)
    pick(page, "scripted-qwen3-vl")
    page.locator("#vision-mode").get_by_text("Detect", exact=True).click()
    attach(page, EXAMPLES / "objects.png")
    page.locator("#vision-input textarea").fill("apple")
    page.locator("#vision-send").click()
    boxes = page.locator("#vision-boxes")
    expect(boxes).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    expect(page.locator("#vision-boxes-note")).to_have_text("Found 3: apple.")
    expect(boxes.get_by_text("apple", exact=True)).to_have_count(3)  # one legend entry per box
    expect(chat(page)).to_contain_text("bbox_2d")  # the answer as written stays in the chat
    shot(page, "vision-detect")


@pytest.mark.scripted
def test_a_damaged_file_gets_a_message_and_the_next_upload_still_works(page: Page, tmp_path: Path) -> None:
    open_vision_tab(page)
    pick(page, "scripted-qwen2.5-vl")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image" * 50)
    attach(page, broken)
    expect(page.locator("#vision-budget")).to_contain_text("broken.png could not be read as an image")
    page.locator("#vision-input textarea").fill("What is this?")
    page.locator("#vision-send").click()
    expect(chat(page)).to_contain_text("could not be read as an image")
    expect(chat(page)).to_contain_text("save it again as PNG or JPEG")
    page.locator("#vision-new").click()  # a new conversation, and an empty message box
    expect(page.locator("#vision-input textarea")).to_have_value("")
    attach(page, EXAMPLES / "sales_chart.png")
    page.locator("#vision-input textarea").fill("What trends do you see in this sales chart?")
    page.locator("#vision-send").click()
    expect(chat(page)).to_contain_text("dip in July and August", timeout=STREAM_TIMEOUT_MS)
    shot(page, "vision-after-error")


@pytest.mark.scripted
def test_an_example_fills_the_message_and_the_mode_and_its_table_shows_words(page: Page) -> None:
    open_vision_tab(page)
    examples = page.locator("table").filter(has_text="What happens in this video?")
    expect(examples).to_contain_text("Mode")  # the header and the modes' names are words, not message keys
    expect(examples).to_contain_text("Detect")
    assert "__i18n__" not in examples.inner_text()
    examples.get_by_text("apple", exact=True).click()
    expect(page.locator("#vision-input textarea")).to_have_value("apple")
    expect(page.locator("#vision-mode").get_by_label("Detect")).to_be_checked()
    expect(page.locator("#vision-budget")).to_contain_text("objects.png")  # the example's image came with it
