"""The Vision tab's handlers on scripted Qwen-VL models: the real processor builds each prompt (image and video
pads and all), the scripted model writes the answer, and the tab shows it, its token budget and its boxes, in the
reader's language."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import gradio as gr
import pytest
from PIL import Image

from playground import i18n
from playground.engine import Engine
from playground.i18n import say
from playground.requests import InputLimits
from playground.tasks.visual_tokens import Grid, image_tokens, resized_size, video_size, video_tokens
from tabs.i18n import Page, forget, remember
from tabs.reply import Stops, thinking_title
from tabs.vision import (
    ASK,
    DETECT,
    EXAMPLES_DIR,
    NOTHING_YET,
    ask,
    budget_markdown,
    build,
    show_examples,
    vision_api,
)
from tests.fakes import scripted_registry
from tests.media import write_image, write_video

SAMPLING = [0.7, 0.8, 20, 0.0, 1.0]  # temperature, top-p, top-k, min-p, repetition penalty
OBJECTS = str(EXAMPLES_DIR / "objects.png")  # 1024 x 768, three apples at known pixels
APPLES = [(268, 465, 393, 596), (314, 610, 447, 750), (412, 505, 529, 628)]  # assets/examples/CREDITS.md


FILES, LONG = 4, 5_000  # the scripted engine's limits


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry, InputLimits(message_chars=LONG - 1, files=FILES)), loader
    registry.close()


# A few of the tab's words in a made-up Swahili (only English is written yet); the others fall back to English.
SWAHILI = """
add_file = "Ongeza picha au video kwanza."
found_boxes = "Imepatikana {count}: {labels}. {note}"
no_boxes = "Hakuna visanduku. {note}"
table_header = "| Faili | Inavyoonekana | Tokeni za picha |"
seen_image = "{width} kwa {height}"
mode = "Hali"
ask = "Uliza"
detect = "Tafuta"
example_3 = "tufaha"
"""


@pytest.fixture
def swahili(monkeypatch, tmp_path) -> Iterator[gr.Request]:
    """A request from a page whose reader picked Swahili, with `SWAHILI` as the Swahili words."""
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES / "en", locales / "en")
    (locales / "sw").mkdir()
    (locales / "sw" / "vision.toml").write_text(SWAHILI, encoding="utf-8")
    (locales / "sw" / "grounding.toml").write_text('no_boxes = "Jibu halina orodha ya visanduku."', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", locales)
    i18n.messages.cache_clear()
    request = gr.Request(session_hash="a-swahili-page")
    remember("sw", request)
    yield request
    forget(request)
    i18n.messages.cache_clear()


def send(engine, text, files=(), model="scripted-qwen3-vl", mode=ASK, history=(), megapixels=1.0, fps=2.0,
         max_frames=32, max_new_tokens=256, camera=None, context_limit=None, request=None):
    message = {"text": text, "files": [str(f) for f in files]}
    return list(ask(engine, Stops(), context_limit, message, camera, list(history), [], model, mode, megapixels, fps,
                    max_frames, False, max_new_tokens, 1, *SAMPLING, request=request))[-1]


def on_open(demo: gr.Blocks, handler):
    """The tab's event that runs `handler` when the page opens (after its language is known)."""
    (found,) = [f.fn for f in demo.fns.values() if getattr(f.fn, "__wrapped__", None) is handler]
    return found


def error_of(chat) -> str:
    return next(m.content for m in chat if (m.metadata or {}).get("id") == "error")


def pads(prompt, loader, token: str) -> int:
    return prompt.input_ids.count(loader.tokenizer.convert_tokens_to_ids(token))


def test_an_image_question_streams_an_answer_and_the_prompt_has_the_counted_image_pads(scripted, tmp_path) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2.5-vl").enqueue("A white rectangle.")
    image = write_image(tmp_path / "white.png", (640, 480))
    chat, history, *_ = send(engine, "What is this?", [image], model="scripted-qwen2.5-vl")
    assert chat[0].content == [{"path": str(image)}, "What is this?"]
    assert chat[1].content == "A white rectangle."
    prompt = loader.decoder("scripted-qwen2.5-vl").prompts[-1]
    assert pads(prompt, loader, "<|image_pad|>") == image_tokens(640, 480, Grid.of("qwen2.5-vl"), 1_000_000) > 0
    assert "pixel_values" in prompt.model_inputs
    assert history[-1] == {"role": "assistant", "content": "A white rectangle."}


def test_a_photo_from_the_camera_goes_with_the_message(scripted, tmp_path) -> None:
    engine, loader = scripted
    photo = write_image(tmp_path / "webcam.png", (320, 240))
    updates = list(ask(engine, Stops(), None, {"text": "Who is this?", "files": []}, str(photo), [], [],
                       "scripted-qwen3-vl", ASK, 1.0, 2.0, 32, False, 256, 1, *SAMPLING))
    assert updates[-1][0][0].content == [{"path": str(photo)}, "Who is this?"]
    prompt = loader.decoder("scripted-qwen3-vl").prompts[-1]
    assert pads(prompt, loader, "<|image_pad|>") == image_tokens(320, 240, Grid.of("qwen3-vl"), 1_000_000)
    # Once sent, the message box and the camera are emptied: the next message does not send the photo again.
    assert updates[0][4].value == {"text": "", "files": []} and updates[0][5] is None


def test_a_thinking_vl_models_thinking_folds_apart_from_its_answer(scripted, tmp_path) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3-vl-thinking").enqueue("<think>\nIt is all one colour.\n</think>\n\nWhite.")
    chat, history, *_ = send(engine, "What colour?", [write_image(tmp_path / "w.png")],
                             model="scripted-qwen3-vl-thinking")
    thought, answer = chat[1], chat[2]
    assert thought.metadata["title"] == thinking_title() and thought.metadata["status"] == "done"  # folded
    assert thought.content.strip() == "It is all one colour."
    assert answer.content == "White." and history[-1]["content"] == "White."


def test_a_second_question_is_about_the_same_image(scripted, tmp_path) -> None:
    engine, loader = scripted
    image = write_image(tmp_path / "white.png", (640, 480))
    _, history, *_ = send(engine, "What is this?", [image])
    chat, history, *_ = send(engine, "And its colour?", history=history)
    prompt = loader.decoder("scripted-qwen3-vl").prompts[-1]
    assert pads(prompt, loader, "<|image_pad|>") == image_tokens(640, 480, Grid.of("qwen3-vl"), 1_000_000)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert chat[0].content == ["And its colour?"]


def test_a_video_goes_in_as_frames_with_the_counted_video_pads(scripted, tmp_path) -> None:
    engine, loader = scripted
    video = write_video(tmp_path / "clip.mp4", seconds=3.0, fps=10, size=(160, 120))
    message = {"text": "", "files": [str(video)]}
    panel = budget_markdown(engine.registry.catalog, None, message, [], "scripted-qwen3-vl", 1.0, 2.0, 32, 256)
    tokens = video_tokens(160, 120, 6, Grid.of("qwen3-vl"), 1_000_000)  # 3 s at 2 frames a second
    width, height = video_size(160, 120, 6, Grid.of("qwen3-vl"), 1_000_000)
    assert f"| clip.mp4 | 6 frames of {width} x {height} | {tokens:,} |" in panel
    send(engine, "What happens?", [video])
    prompt = loader.decoder("scripted-qwen3-vl").prompts[-1]
    assert pads(prompt, loader, "<|video_pad|>") == tokens > 0
    assert "<0.2 seconds>" in loader.tokenizer.decode(prompt.input_ids)  # Qwen3-VL's frame times, from metadata


@pytest.mark.parametrize("model", ["scripted-qwen3-vl", "scripted-qwen2.5-vl"])
def test_detect_draws_each_familys_boxes_on_the_right_pixels(scripted, model: str) -> None:
    engine, loader = scripted
    width, height = 1024, 768
    if model == "scripted-qwen3-vl":  # relative 0..1000
        sx, sy = 1000 / width, 1000 / height
    else:  # pixels of the resized input
        rw, rh = resized_size(width, height, Grid.of("qwen2.5-vl"), 1_000_000)
        sx, sy = rw / width, rh / height
    written = ", ".join(f'{{"bbox_2d": [{x1 * sx:.0f}, {y1 * sy:.0f}, {x2 * sx:.0f}, {y2 * sy:.0f}], '
                        f'"label": "apple"}}' for x1, y1, x2, y2 in APPLES)
    loader.decoder(model).enqueue(f"```json\n[{written}]\n```")
    chat, history, boxes, note, *_ = send(engine, "apple", [OBJECTS], model=model, mode=DETECT)
    asked = loader.tokenizer.decode(loader.decoder(model).prompts[-1].input_ids)
    assert "apple" in asked and "JSON" in asked
    annotations = boxes.value["annotations"]
    assert [a["label"] for a in annotations] == ["apple"] * 3 and note.value == "Found 3: apple."
    # Each box is drawn as a mask over the uploaded image: its extent is where the apple is.
    for (x1, y1, x2, y2), annotation in zip(APPLES, annotations, strict=True):
        mask = Image.open(annotation["image"]["path"])
        assert mask.size == (width, height)
        left, top, right, bottom = mask.getchannel("A").getbbox()
        assert all(abs(a - b) <= 2 for a, b in zip((x1, y1, x2, y2), (left, top, right, bottom), strict=True))


def test_malformed_grounding_json_is_shown_as_written_with_a_note(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3-vl").enqueue('I found them: [{"bbox_2d": [1, 2,')
    chat, _, boxes, note, *_ = send(engine, "apple", [OBJECTS], mode=DETECT)
    assert chat[1].content == 'I found them: [{"bbox_2d": [1, 2,'
    assert boxes.value["annotations"] == [] and note.value.startswith("No boxes found. The answer has no readable")


@pytest.mark.parametrize(("case", "expected"), [
    ("text model", "scripted-qwen3 reads text only: pick a vision model (Qwen-VL)"),
    ("no file", "Add an image or a video first"),
    ("no question", "Type a question about the image or video."),
    ("two videos", "One video per message"),
    ("too many files", f"The message has {FILES + 1} files; this app takes at most {FILES} per message."),
    ("too long", f"The message is {LONG:,} characters long; this app takes at most {LONG - 1:,}."),
    ("detect a video", "Detect finds things in an image"),
    ("detect nothing", "Type what to find"),
    ("unsupported", "notes.pdf: .pdf is not supported here"),
    ("corrupt", "broken.png could not be read as an image"),
    ("too big for the window", "visual tokens, but this model's 4,096-token window leaves room for 3,840"),
])
def test_bad_input_gets_a_message_and_nothing_is_sent(scripted, tmp_path, case: str, expected: str) -> None:
    engine, loader = scripted
    image = write_image(tmp_path / "white.png", (640, 480))
    video = write_video(tmp_path / "clip.mp4", seconds=1.0)
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image" * 20)
    args = {
        "text model": ("What?", [image], {"model": "scripted-qwen3"}),
        "no file": ("What?", [], {}),
        "no question": ("", [image], {}),
        "two videos": ("What?", [video, video], {}),
        "too many files": ("What?", [image] * (FILES + 1), {}),
        "too long": ("x" * LONG, [image], {}),
        "detect a video": ("apple", [video], {"mode": DETECT}),
        "detect nothing": ("", [image], {"mode": DETECT}),
        "unsupported": ("What?", [pdf], {}),
        "corrupt": ("What?", [broken], {}),
        "too big for the window": ("What?", [write_image(tmp_path / "big.png", (2400, 1800))], {"megapixels": 4.0}),
    }[case]
    text, files, options = args
    chat, history, _, _, textbox, _ = send(engine, text, files, **options)
    assert expected in error_of(chat)
    assert history == [] and loader.decoder(options.get("model", "scripted-qwen3-vl")).prompts == []
    assert textbox == gr.skip()  # the message stays in its box, to fix and send again


def test_the_budget_panel_totals_the_conversation_and_warns_before_sending(scripted, tmp_path) -> None:
    engine, _ = scripted
    catalog = engine.registry.catalog
    nothing = say("en", NOTHING_YET)
    assert budget_markdown(catalog, None, None, [], "scripted-qwen3-vl", 1.0, 2.0, 32, 256) == nothing
    image = write_image(tmp_path / "white.png", (640, 480))
    one = budget_markdown(catalog, None, {"files": [str(image)]}, [], "scripted-qwen2.5-vl", 1.0, 2.0, 32, 256)
    tokens = image_tokens(640, 480, Grid.of("qwen2.5-vl"), 1_000_000)
    assert f"| white.png | 644 x 476 | {tokens:,} |" in one and f"Fits: **{tokens:,}** visual tokens" in one
    big = write_image(tmp_path / "big.png", (2400, 1800))  # 5,500 tokens at 4 megapixels
    many = budget_markdown(catalog, None, {"files": [str(big)]}, [], "scripted-qwen2.5-vl", 4.0, 2.0, 32, 256)
    assert "⚠️ Too many:" in many and "Lower Max pixels per image" in many
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF")
    assert "⚠️ notes.pdf: .pdf is not supported" in budget_markdown(catalog, None, {"files": [str(pdf)]}, [],
                                                                   "scripted-qwen3-vl", 1.0, 2.0, 32, 256)


def test_the_api_returns_the_answer_the_token_count_and_the_boxes(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3-vl").enqueue('[{"bbox_2d": [500, 0, 1000, 500], "label": "right top"}]')
    out = list(vision_api(engine, Stops(), None, [OBJECTS], "thing", model="scripted-qwen3-vl", mode=DETECT))[-1]
    assert out["done"] and out["error"] is None
    assert out["visual_tokens"] == image_tokens(1024, 768, Grid.of("qwen3-vl"), 1_000_000) == 768
    assert out["files"] == [{"name": "objects.png", "visual_tokens": 768, "seen_as": "1024 x 768", "note": ""}]
    assert out["boxes"] == [{"label": "right top", "bbox_2d": [512, 0, 1024, 384], "point": False}]
    refused = list(vision_api(engine, Stops(), None, [], "What?", model="scripted-qwen3-vl"))
    assert refused == [{"error": "Add an image or a video first (drop it on the message box, paste it, or use the "
                                 "camera)."}]


def test_a_page_in_another_language_gets_the_tabs_words_in_it(scripted, swahili) -> None:
    engine, loader = scripted
    chat, *_ = send(engine, "What?", request=swahili)
    assert error_of(chat) == "⚠️ Ongeza picha au video kwanza."  # a refusal
    loader.decoder("scripted-qwen3-vl").enqueue('[{"bbox_2d": [500, 0, 1000, 500], "label": "tufaha"}]')
    _, _, _, note, *_ = send(engine, "tufaha", [OBJECTS], mode=DETECT, request=swahili)
    assert note.value == "Imepatikana 1: tufaha."  # Detect's line
    loader.decoder("scripted-qwen3-vl").enqueue("Sijui.")
    _, _, _, note, *_ = send(engine, "tufaha", [OBJECTS], mode=DETECT, request=swahili)
    assert note.value == "Hakuna visanduku. Jibu halina orodha ya visanduku."  # with the grounding's own note
    panel = budget_markdown(engine.registry.catalog, None, {"files": [OBJECTS]}, [], "scripted-qwen3-vl", 1.0, 2.0,
                            32, 256, request=swahili)
    assert "| Faili | Inavyoonekana | Tokeni za picha |" in panel and "| objects.png | 1024 kwa 768 | 768 |" in panel
    assert "Fits: **768** visual tokens" in panel  # no Swahili for it: English
    assert error_of(send(engine, "What?")[0]).startswith("⚠️ Add an image or a video first")  # another page: English
    # The examples, when the page opens: the prompts, the header and the modes' names in Swahili.
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    shown = on_open(demo, show_examples)(request=swahili)
    assert [(sample[0]["text"], sample[1]) for sample in shown.raw_samples] == [
        ("What trends do you see in this sales chart?", ASK),
        ("Describe what's happening in this image and identify any text present", ASK),
        ("tufaha", DETECT), ("What happens in this video?", ASK)]
    assert shown.raw_samples[2][0]["files"] == [OBJECTS]
    assert shown.headers == ["", "Hali"]
    assert shown.component_props[1]["choices"] == [("Uliza", ASK), ("Tafuta", DETECT)]


def test_copy_as_code_shows_the_pages_last_question_with_its_image(scripted, tmp_path) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2.5-vl").enqueue("A white rectangle.")
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    page = gr.Request(session_hash="a-vision-page")
    assert copied(demo, page).startswith("# Nothing was sent here yet")
    image = write_image(tmp_path / "white.png", (640, 480))
    send(engine, "What is this?", [image], model="scripted-qwen2.5-vl", request=page)
    script = copied(demo, page)
    compile(script, "snippet.py", "exec")
    assert script.startswith("# The code for your last request (scripted-qwen2.5-vl at ")
    assert "AutoModelForImageTextToText, AutoProcessor" in script and "process_vision_info(messages" in script
    assert f"'image': '{image}'" in script and "'text': 'What is this?'" in script
    assert copied(demo, gr.Request(session_hash="another-page")).startswith("# Nothing")


def copied(demo: gr.Blocks, request: gr.Request) -> str:
    """What the Copy as code button shows the page of `request` (its click, as the tab wires it)."""
    (fn,) = [d.fn for d in demo.fns.values()
             if any(getattr(demo.blocks.get(target), "elem_id", None) == "vision-copy-code-button"
                    for target, _ in d.targets)]
    return fn(request=request)
