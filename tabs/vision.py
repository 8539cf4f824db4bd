"""Vision tab: ask Qwen-VL about images and a video, see what they cost in tokens first, find things in them.

Upload several images and/or one video per message (drag and drop, paste, or the camera), ask,
and the answer streams; later messages are about the same files, which stay in the conversation.
Each file is checked before anything is sent (`playground.media`): an unsupported type, a file
past the size limit, a damaged file, a giant image, an over-long video each get a sentence saying
what to do. The panel beside the chat shows what every file will cost in visual tokens
(`playground.tasks.visual_tokens`, equal to the processor's own count) and the total against the
model's window; a conversation that would not fit is refused before sending, with the fix.

"Detect" mode asks for every <thing> as boxes (Qwen's grounding JSON) and draws them on the image
(`playground.tasks.grounding` maps each family's coordinates back onto the original pixels). An
answer without readable boxes is shown as written, with a note.

`/vision` is the public API.

    python -m tabs.vision   # this tab alone, for development
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from playground.catalog import Catalog, ModelSpec, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.media import DEFAULT_FPS, DEFAULT_MAX_FRAMES, ImageInfo, Info, MediaError, kind, probe
from playground.registry import Registry
from playground.requests import InputLimits, Message, Request, reply_share, too_long
from playground.tasks.grounding import Found, detect_prompt, read_boxes, space_of
from playground.tasks.visual_tokens import Grid, image_tokens, resized_size, video_size, video_tokens
from tabs import picker
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Stops,
    error_message,
    follow,
    mode_line,
    preset_sampling,
    preset_sliders,
    session_of,
    stop_reply,
    stream_reply,
    touch,
)

TITLE = "Vision"
SLOT = "vision"
ASK, DETECT = "Ask", "Detect"
MODES = [ASK, DETECT]
DEFAULT_MEGAPIXELS = 1.0  # per image: about 1,300 tokens for Qwen2.5-VL, 1,000 for Qwen3-VL
MEGAPIXELS = (0.05, 12.0)
DEFAULT_MAX_NEW_TOKENS = 1024
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
EXAMPLES = [
    [{"text": "What trends do you see in this sales chart?", "files": [str(EXAMPLES_DIR / "sales_chart.png")]}, ASK],
    [{"text": "Describe what's happening in this image and identify any text present",
      "files": [str(EXAMPLES_DIR / "receipt.png")]}, ASK],
    [{"text": "apple", "files": [str(EXAMPLES_DIR / "objects.png")]}, DETECT],
    [{"text": "What happens in this video?", "files": [str(EXAMPLES_DIR / "clip.mp4")]}, ASK],
]


# --- what the files cost ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How images and videos are sampled: the controls beside the chat, or the API's numbers."""

    max_pixels: int  # per image (and per video frame, within qwen-vl-utils' video bounds)
    fps: float = DEFAULT_FPS
    max_frames: int = DEFAULT_MAX_FRAMES

    @staticmethod
    def of(megapixels: Any, fps: Any, max_frames: Any) -> Limits:
        try:
            limits = Limits(round(float(megapixels) * 1e6), float(fps), int(max_frames))
        except (TypeError, ValueError):
            raise InvalidRequestError("Max pixels, fps and max frames must be numbers.") from None
        return limits.validated()

    def validated(self) -> Limits:
        low, high = MEGAPIXELS
        if not low * 1e6 <= self.max_pixels <= high * 1e6:
            raise InvalidRequestError(f"Max pixels per image must be between {low * 1e6:,.0f} and {high * 1e6:,.0f}.")
        if not 0.1 <= self.fps <= 10:
            raise InvalidRequestError("Frames per second must be between 0.1 and 10.")
        if not 2 <= self.max_frames <= 256:
            raise InvalidRequestError("Max frames must be between 2 and 256.")
        return self


@dataclass(frozen=True)
class Cost:
    """One file: what it is, the size the model sees it at, and its visual tokens."""

    info: Info
    tokens: int
    seen: str  # "896 x 672" or "16 frames of 448 x 336"


def cost(info: Info, grid: Grid, limits: Limits) -> Cost:
    if isinstance(info, ImageInfo):
        width, height = resized_size(info.width, info.height, grid, limits.max_pixels)
        return Cost(info, image_tokens(info.width, info.height, grid, limits.max_pixels), f"{width} x {height}")
    frames = info.sampled(limits.fps, limits.max_frames)
    width, height = video_size(info.width, info.height, frames, grid, limits.max_pixels)
    return Cost(info, video_tokens(info.width, info.height, frames, grid, limits.max_pixels),
                f"{frames} frames of {width} x {height}")


def media_part(path: str, info: Info, limits: Limits) -> dict[str, Any]:
    """The message part for an uploaded file (`info`: its probe), with qwen-vl-utils' options."""
    if isinstance(info, ImageInfo):
        return {"type": "image", "image": path, "max_pixels": limits.max_pixels}
    return {"type": "video", "video": path, "fps": limits.fps, "max_frames": limits.max_frames,
            "max_pixels": limits.max_pixels}


def files_of(messages: Sequence[Message]) -> list[str]:
    """The files in a conversation, in order."""
    found = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if part.get("type") in ("image", "video"):
                found.append(str(part.get(part["type"])))
    return found


def costs_of(paths: Sequence[str], spec: ModelSpec, limits: Limits) -> list[Cost]:
    grid = Grid.of(spec.family)
    return [cost(probe(path), grid, limits) for path in paths]


def check_fits(costs: Sequence[Cost], window: int | None, max_new_tokens: int) -> None:
    """Refuse, before sending, a conversation whose images and video alone overflow the prompt's room."""
    total = sum(c.tokens for c in costs)
    if window is None or total <= (room := window - reply_share(window, max_new_tokens)):
        return
    raise InvalidRequestError(
        f"The images and video come to {total:,} visual tokens, but this model's {window:,}-token window leaves "
        f"room for {room:,} in the prompt (after {reply_share(window, max_new_tokens):,} kept for the reply). Lower "
        "Max pixels per image (or fps and Max frames for a video), send fewer files, or start a New conversation."
    )


NOTHING_YET = "Visual tokens: add an image or a video to see what it costs before sending."


def budget_markdown(catalog: Catalog, context_limit: int | None, message: dict[str, Any] | None,
                    history: list[Message], model: str, megapixels: Any, fps: Any, max_frames: Any,
                    max_new_tokens: Any) -> str:
    """The token-budget panel: each file's cost, the total and the room in the window."""
    try:
        spec = catalog.get(model)
        limits = Limits.of(megapixels, fps, max_frames)
        earlier = files_of(history)
        pending = list((message or {}).get("files") or [])
        rows, problems = [], []
        costs = []
        for index, path in enumerate([*earlier, *pending]):
            sent = " (sent)" if index < len(earlier) else ""
            try:
                item = costs_of([path], spec, limits)[0]
            except MediaError as exc:
                problems.append(f"⚠️ {exc}")
                continue
            costs.append(item)
            note = f" · {item.info.note}" if item.info.note else ""
            rows.append(f"| {item.info.name}{sent}{note} | {item.seen} | {item.tokens:,} |")
    except PlaygroundError as exc:
        return f"⚠️ {exc}"
    if not rows and not problems:
        return NOTHING_YET
    lines = []
    if rows:
        lines += ["| File | Seen as | Visual tokens |", "|---|---|---:|", *rows]
    total = sum(c.tokens for c in costs)
    window = spec.window(context_limit)
    try:
        new_tokens = int(float(max_new_tokens))
    except (TypeError, ValueError):
        new_tokens = DEFAULT_MAX_NEW_TOKENS
    if window:
        room = window - reply_share(window, new_tokens)
        mark = "Fits:" if total <= room else "⚠️ Too many:"
        lines.append(f"\n{mark} **{total:,}** visual tokens of the **{room:,}** this model's prompt has room for "
                     f"({window:,}-token window, {reply_share(window, new_tokens):,} kept for the reply).")
        if total > room:
            lines.append("Lower Max pixels per image (or fps and Max frames for a video), or send fewer files.")
    else:
        lines.append(f"\n**{total:,}** visual tokens.")
    return "\n".join([*lines, *problems])


# --- asking ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A message ready to send: the request, and what the chat shows for it."""

    request: Request
    shown: gr.ChatMessage
    history_message: Message
    detect_image: str | None  # the image boxes are drawn on (Detect mode)
    limits: Limits
    costs: list[Cost]  # of this message's files


DEFAULT_LIMITS = InputLimits()


def compose(catalog: Catalog, context_limit: int | None, text: str, paths: Sequence[str], history: list[Message],
            model: str, mode: str, limits: Limits, thinking: Any, sampling: Any,
            allowed: InputLimits = DEFAULT_LIMITS) -> Asked:
    """Check everything a message needs and build its request, or raise a `PlaygroundError` that says what to do.

    `allowed`: how much text and how many files the app takes (the engine's limits)."""
    spec = catalog.get(model)
    if Task.VISION not in spec.tasks:
        able = ", ".join(s.key for s in catalog.with_task(Task.VISION)) or "none in this catalogue"
        raise InvalidRequestError(f"{model} reads text only: pick a vision model (Qwen-VL) for images and video "
                                  f"({able}).")
    if mode not in MODES:
        raise InvalidRequestError(f"Unknown mode {mode!r}: use {ASK} or {DETECT}.")
    text = (text or "").strip()
    if len(text) > allowed.message_chars:
        raise too_long("message", len(text), allowed.message_chars)
    allowed.check_files(len(paths))  # before any file is opened
    kinds = [kind(path) for path in paths]
    if kinds.count("video") > 1:
        raise InvalidRequestError("One video per message: send the other one in the next message.")
    infos = [probe(path) for path in paths]  # each file is checked here, once
    parts = [media_part(path, info, limits) for path, info in zip(paths, infos, strict=True)]
    earlier = files_of(history)
    if not paths and not earlier:
        raise InvalidRequestError("Add an image or a video first (drop it on the message box, paste it, or use "
                                  "the camera).")
    detect_image = None
    if mode == DETECT:
        images = [p for p, k in zip(paths, kinds, strict=True) if k == "image"] or \
                 [p for p in earlier if kind(p) == "image"][-1:]
        if not images:
            raise InvalidRequestError("Detect finds things in an image: add one (a video can't be used).")
        if not text:
            raise InvalidRequestError("Type what to find, e.g. \"apple\" or \"person, car\".")
        detect_image = images[0]
        question = detect_prompt(spec.family, text)
    else:
        if not text:
            raise InvalidRequestError("Type a question about the image or video.")
        question = text
    grid = Grid.of(spec.family)
    before, costs = costs_of(earlier, spec, limits), [cost(info, grid, limits) for info in infos]
    check_fits([*before, *costs], spec.window(context_limit), sampling.max_new_tokens)
    user: Message = {"role": "user", "content": [*parts, {"type": "text", "text": question}]}
    request = Request(model, [*history, user], sampling, thinking=bool(thinking) if spec.hybrid else None)
    shown = gr.ChatMessage(role="user", content=[*({"path": p} for p in paths), text if mode == ASK else
                                                 f"Detect: {text}"])
    return Asked(request.validated(), shown, user, detect_image, limits, costs)


def boxes_of(answer: str, spec: ModelSpec, image: str, limits: Limits) -> Found:
    """The boxes in a Detect answer, in pixels of the image as uploaded."""
    info = probe(image)
    resized = resized_size(info.width, info.height, Grid.of(spec.family), limits.max_pixels)
    return read_boxes(answer, space_of(spec.family), (info.width, info.height), resized)


def annotations(found: Found, image: str) -> tuple[str, list[tuple[tuple[int, int, int, int], str]]]:
    """`gr.AnnotatedImage`'s value: a point becomes a small square around it."""
    info = probe(image)
    half = max(4, round(min(info.width, info.height) / 100))
    out = []
    for box in found.boxes:
        corners = (box.x1 - half, box.y1 - half, box.x2 + half, box.y2 + half) if box.is_point else \
                  (box.x1, box.y1, box.x2, box.y2)
        out.append((corners, box.label or "?"))
    return image, out


def found_text(found: Found) -> str:
    if not found.boxes:
        return f"No boxes found. {found.note}".strip()
    labels = sorted({b.label or "?" for b in found.boxes})
    text = f"Found {len(found.boxes)}: {', '.join(labels)}."
    return f"{text} {found.note}".strip()


def box_data(found: Found) -> list[dict[str, Any]]:
    return [{"label": b.label, "bbox_2d": [b.x1, b.y1, b.x2, b.y2], "point": b.is_point} for b in found.boxes]


def ask(engine: Engine, stops: Stops, context_limit: int | None, message: dict[str, Any] | None,
        camera: str | None, history: list[Message], shown: list[Any], model: str, mode: str, megapixels: Any,
        fps: Any, max_frames: Any, thinking: Any, max_new_tokens: Any, seed: Any, *presets: Any,
        request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Send: the chat, the history, the boxes image, the note under it, the message box, the camera."""
    catalog = engine.registry.catalog
    message = message or {}
    paths = [*(message.get("files") or []), *([camera] if camera else [])]
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        limits = Limits.of(megapixels, fps, max_frames)
        asked = compose(catalog, context_limit, message.get("text", ""), paths, history, model, mode, limits,
                        thinking, sampling, engine.limits)
    except (PlaygroundError, ValueError) as exc:  # the message stays in its box, to fix and send again
        yield [*shown, error_message(str(exc))], history, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    shown = [*shown, asked.shown]
    cleared = gr.MultimodalTextbox(value=None)
    yield shown, history, gr.skip(), gr.skip(), cleared, None
    spec = catalog.get(model)
    for view in stream_reply(engine, asked.request, stops, (session_of(request), SLOT)):
        done = view.metrics is not None or view.error is not None
        if not done:
            yield [*shown, *view.messages()], history, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            continue
        answered = [*history, asked.history_message, {"role": "assistant", "content": view.answer}] \
            if view.error is None else history
        boxes, note = gr.skip(), gr.skip()
        if asked.detect_image is not None and view.error is None:
            found = boxes_of(view.answer, spec, asked.detect_image, asked.limits)
            boxes = gr.AnnotatedImage(annotations(found, asked.detect_image), visible=True)
            note = gr.Markdown(found_text(found), visible=True)
        yield [*shown, *view.messages()], answered, boxes, note, gr.skip(), gr.skip()


def stop(stops: Stops, request: gr.Request | None = None) -> None:
    stop_reply(stops, (session_of(request), SLOT), [])


def clear() -> tuple[Any, ...]:
    """New: an empty conversation, no boxes, and nothing left in the message box."""
    return [], [], gr.AnnotatedImage(value=None, visible=False), gr.Markdown("", visible=False), None


def vision_api(engine: Engine, stops: Stops, context_limit: int | None, files: list[str] | None, prompt: str,
               model: str = "", mode: str = ASK, max_pixels: int = int(DEFAULT_MEGAPIXELS * 1e6),
               fps: float = DEFAULT_FPS, max_frames: int = DEFAULT_MAX_FRAMES, thinking: bool = False,
               max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, seed: int = -1, temperature: float = 0.7,
               top_p: float = 0.8, top_k: int = 20, min_p: float = 0.0, repetition_penalty: float = 1.0,
               session: gr.Request | None = None) -> Iterator[dict[str, Any]]:
    """Ask a vision model about images and/or one video (one turn): the answer as it streams, the visual-token
    count of each file, and in Detect mode (`prompt` names what to find) the boxes in the original image's pixels."""
    catalog = engine.registry.catalog
    paths = [str(f) for f in files or []]
    try:
        sampling = preset_sampling([temperature, top_p, top_k, min_p, repetition_penalty], max_new_tokens, seed)
        limits = Limits(int(max_pixels), float(fps), int(max_frames)).validated()
        asked = compose(catalog, context_limit, prompt, paths, [], model, mode, limits, thinking, sampling,
                        engine.limits)
    except (PlaygroundError, ValueError) as exc:
        yield {"error": str(exc)}
        return
    spec, costs = catalog.get(model), asked.costs
    files_out = [{"name": c.info.name, "visual_tokens": c.tokens, "seen_as": c.seen, "note": c.info.note}
                 for c in costs]
    for view in stream_reply(engine, asked.request, stops, (session_of(session), f"{SLOT}-api")):
        done = view.metrics is not None or view.error is not None
        out = {"answer": view.answer, "thinking": view.thinking, "error": view.error,
               "visual_tokens": sum(c.tokens for c in costs), "files": files_out, "done": done}
        if done and asked.detect_image is not None and view.error is None:
            found = boxes_of(view.answer, spec, asked.detect_image, limits)
            out.update(boxes=box_data(found), note=found.note)
        yield out


# --- layout -------------------------------------------------------------------------------------------------------


def first_model(registry: Registry, models: Sequence[ModelSpec]) -> ModelSpec:
    """The smallest vision model that fits here (they are big: start small), else the first one."""
    fitting = [s for s in models if not s.unavailable and picker.fit(registry, s).fits is not None]
    return min(fitting, key=lambda s: s.params_billion or 0) if fitting else models[0]


def build(catalog: Catalog, engine: Engine, registry: Registry, context_limit: int | None = None) -> None:
    models = catalog.with_task(Task.VISION)
    if not models:
        gr.Markdown("The catalogue has no model with the `vision` task: add a Qwen2.5-VL or Qwen3-VL model.")
        return
    first = first_model(registry, models)
    stops = Stops()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chat = gr.Chatbot(show_label=False, latex_delimiters=LATEX_DELIMITERS, height="50vh",
                              elem_id="vision-chat", buttons=["copy"])
            message = gr.MultimodalTextbox(
                show_label=False, file_types=["image", "video"], file_count="multiple", sources=["upload"],
                placeholder="Drop or paste images or a video, then ask… (Detect: type what to find)",
                elem_id="vision-input",
            )
            with gr.Row():
                send = gr.Button("Send", variant="primary", elem_id="vision-send")
                stop_button = gr.Button("Stop", variant="stop", elem_id="vision-stop")
                new = gr.Button("New", elem_id="vision-new")
            boxes = gr.AnnotatedImage(visible=False, label="Found", elem_id="vision-boxes", show_legend=True,
                                      height=460)
            boxes_note = gr.Markdown(visible=False, elem_id="vision-boxes-note")
        with gr.Column(scale=2):
            with gr.Group():
                # Any key is let through, so an API caller naming a text model is told why (not "not a choice").
                model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label="Model",
                                    elem_id="vision-model", filterable=True, allow_custom_value=True)
                switch = gr.Checkbox(value=False, label="Thinking", visible=first.hybrid, elem_id="vision-thinking")
                said = gr.Markdown(mode_line(first), padding=True, visible=bool(mode_line(first)))
                mode = gr.Radio(MODES, value=ASK, label="Mode", elem_id="vision-mode",
                                info="Ask a question, or Detect: name things to find, and see them boxed")
            budget = gr.Markdown(NOTHING_YET, elem_id="vision-budget")
            with gr.Accordion("Images and video", open=True):
                megapixels = gr.Slider(*MEGAPIXELS, value=DEFAULT_MEGAPIXELS, step=0.05,
                                       label="Max pixels per image (megapixels)", elem_id="vision-megapixels",
                                       info="Larger images are scaled down to this; fewer pixels, fewer tokens")
                fps = gr.Slider(0.5, 4, value=DEFAULT_FPS, step=0.5, label="Video: frames per second",
                                elem_id="vision-fps")
                max_frames = gr.Slider(2, 128, value=DEFAULT_MAX_FRAMES, step=2, label="Video: max frames",
                                       elem_id="vision-max-frames")
            with gr.Accordion("Camera", open=False):
                camera = gr.Image(sources=["webcam"], type="filepath", show_label=False, elem_id="vision-camera")
                gr.Markdown("A photo taken here goes with the next message.")
            with gr.Accordion("Sampling", open=False, elem_id="vision-sampling"):
                with gr.Row():
                    max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                               label="Max new tokens", elem_id="vision-max-new-tokens")
                    seed = gr.Number(value=-1, precision=0, label="Seed", info="-1 = random")
                presets = preset_sliders(first.sampling_for(first.thinks))
    gr.Examples(examples=EXAMPLES, inputs=[message, mode], label="Examples", cache_examples=False)

    history = gr.State([])
    touched = gr.State([])
    follow_fn = functools.partial(follow, catalog)
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], [switch, said, *presets], api_visibility="private", queue=False)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, api_visibility="private", queue=False)

    budget_inputs = [message, history, model, megapixels, fps, max_frames, max_new_tokens]
    budget_fn = functools.partial(budget_markdown, catalog, context_limit)
    for trigger in (message.change, history.change, model.change, megapixels.release, fps.release,
                    max_frames.release, max_new_tokens.change):
        trigger(budget_fn, budget_inputs, budget, api_visibility="private", queue=False)

    inputs = [message, camera, history, chat, model, mode, megapixels, fps, max_frames, switch, max_new_tokens,
              seed, *presets]
    outputs = [chat, history, boxes, boxes_note, message, camera]
    for trigger in (send.click, message.submit):
        trigger(functools.partial(ask, engine, stops, context_limit), inputs, outputs, api_visibility="private",
                trigger_mode="once")
    stop_button.click(functools.partial(stop, stops), None, None, api_visibility="private", queue=False)
    new.click(clear, None, [chat, history, boxes, boxes_note, message], api_visibility="private", queue=False)

    api_files = gr.File(file_count="multiple", visible=False)
    api_text = gr.Textbox(visible=False)
    api_pixels = gr.Number(value=int(DEFAULT_MEGAPIXELS * 1e6), precision=0, visible=False)
    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_inputs = [api_files, api_text, model, mode, api_pixels, fps, max_frames, switch, max_new_tokens, seed,
                  *presets]
    api_button.click(functools.partial(vision_api, engine, stops, context_limit), api_inputs, api_result,
                     api_name="vision")


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as demo:
        build(services.catalog, services.engine, services.registry, services.settings.context_limit)
    demo.queue().launch()
