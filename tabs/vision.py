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
answer without readable boxes is shown as written, with a note. Copy as code, under the chat, gives the
script that reproduces the last question with its files (`tabs.copy_code`).

`/vision` is the public API.

Words are `vision.*` keys (`playground/locales/<language>/vision.toml`): fixed ones through `t`,
made ones in the reader's language (`locale`); the API's JSON is English.

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
from playground.i18n import Said, say
from playground.media import DEFAULT_FPS, DEFAULT_MAX_FRAMES, ImageInfo, Info, MediaError, kind, probe
from playground.registry import Registry
from playground.requests import InputLimits, Message, Request, reply_share, too_long
from playground.tasks.grounding import Found, detect_prompt, read_boxes, space_of
from playground.tasks.visual_tokens import Grid, image_tokens, resized_size, video_size, video_tokens
from tabs import picker
from tabs.copy_code import copy_as_code
from tabs.examples import examples_in
from tabs.i18n import Page, language_of, t
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Stops,
    bound,
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

TITLE = "vision.title"  # a message key
SLOT = "vision"
ASK, DETECT = "Ask", "Detect"
MODES = [ASK, DETECT]  # the values the API takes; the page shows `vision.ask` and `vision.detect`
DEFAULT_MEGAPIXELS = 1.0  # per image: about 1,300 tokens for Qwen2.5-VL, 1,000 for Qwen3-VL
MEGAPIXELS = (0.05, 12.0)
FPS = (0.1, 10.0)  # what a request may ask for (the slider offers less)
FRAMES = (2, 256)
DEFAULT_MAX_NEW_TOKENS = 1024
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
EXAMPLES = [  # (the prompt's message key, the file, the mode)
    ("vision.example_1", EXAMPLES_DIR / "sales_chart.png", ASK),
    ("vision.example_2", EXAMPLES_DIR / "receipt.png", ASK),
    ("vision.example_3", EXAMPLES_DIR / "objects.png", DETECT),
    ("vision.example_4", EXAMPLES_DIR / "clip.mp4", ASK),
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
            raise InvalidRequestError("vision.not_numbers") from None
        return limits.validated()

    def validated(self) -> Limits:
        low, high = MEGAPIXELS
        if not low * 1e6 <= self.max_pixels <= high * 1e6:
            raise InvalidRequestError("vision.pixels_range", low=low * 1e6, high=high * 1e6)
        if not FPS[0] <= self.fps <= FPS[1]:
            raise InvalidRequestError("vision.fps_range", low=FPS[0], high=FPS[1])
        if not FRAMES[0] <= self.max_frames <= FRAMES[1]:
            raise InvalidRequestError("vision.frames_range", low=FRAMES[0], high=FRAMES[1])
        return self


@dataclass(frozen=True)
class Cost:
    """One file: what it is, the size the model sees it at (`frames` of it, for a video), and its visual tokens."""

    info: Info
    tokens: int
    width: int
    height: int
    frames: int | None = None

    def seen(self, locale: str | None = None) -> str:
        """How the model sees the file: "896 x 672", "16 frames of 448 x 336"."""
        if self.frames is None:
            return say(locale, "vision.seen_image", width=self.width, height=self.height)
        return say(locale, "vision.seen_video", frames=self.frames, width=self.width, height=self.height)


def cost(info: Info, grid: Grid, limits: Limits) -> Cost:
    if isinstance(info, ImageInfo):
        width, height = resized_size(info.width, info.height, grid, limits.max_pixels)
        return Cost(info, image_tokens(info.width, info.height, grid, limits.max_pixels), width, height)
    frames = info.sampled(limits.fps, limits.max_frames)
    width, height = video_size(info.width, info.height, frames, grid, limits.max_pixels)
    return Cost(info, video_tokens(info.width, info.height, frames, grid, limits.max_pixels), width, height, frames)


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
    raise InvalidRequestError("vision.too_big", total=total, window=window, room=room,
                              reply=reply_share(window, max_new_tokens))


NOTHING_YET = "vision.nothing_yet"  # a message key


def spoken(said: Said | None, locale: str | None) -> str:
    """A note made elsewhere (a file's, a grounding answer's) in the reader's language; "" for none."""
    return said.text(locale) if said is not None else ""


def error_text(exc: Exception, locale: str | None) -> str:
    """A refused message's words in the reader's language (a library's own `ValueError` as it is)."""
    return exc.text(locale) if isinstance(exc, PlaygroundError) else str(exc)


def budget_markdown(catalog: Catalog, context_limit: int | None, message: dict[str, Any] | None,
                    history: list[Message], model: str, megapixels: Any, fps: Any, max_frames: Any,
                    max_new_tokens: Any, request: gr.Request | None = None) -> str:
    """The token-budget panel: each file's cost, the total and the room in the window."""
    locale = language_of(request)
    try:
        spec = catalog.get(model)
        limits = Limits.of(megapixels, fps, max_frames)
        earlier = files_of(history)
        pending = list((message or {}).get("files") or [])
        rows, problems = [], []
        costs = []
        for index, path in enumerate([*earlier, *pending]):
            sent = say(locale, "vision.sent") if index < len(earlier) else ""
            try:
                item = costs_of([path], spec, limits)[0]
            except MediaError as exc:
                problems.append(say(locale, "vision.problem", problem=exc.text(locale)))
                continue
            costs.append(item)
            note = say(locale, "vision.note", note=spoken(item.info.said, locale)) if item.info.said else ""
            rows.append(f"| {item.info.name}{sent}{note} | {item.seen(locale)} | {item.tokens:,} |")
    except PlaygroundError as exc:
        return say(locale, "vision.problem", problem=exc.text(locale))
    if not rows and not problems:
        return say(locale, NOTHING_YET)
    lines = []
    if rows:
        lines += [say(locale, "vision.table_header"), "|---|---|---:|", *rows]
    total = sum(c.tokens for c in costs)
    window = spec.window(context_limit)
    try:
        new_tokens = int(float(max_new_tokens))
    except (TypeError, ValueError):
        new_tokens = DEFAULT_MAX_NEW_TOKENS
    if window:
        room = window - reply_share(window, new_tokens)
        lines.append("\n" + say(locale, "vision.fits" if total <= room else "vision.too_many", total=total, room=room,
                                window=window, reply=reply_share(window, new_tokens)))
        if total > room:
            lines.append(say(locale, "vision.lower"))
    else:
        lines.append("\n" + say(locale, "vision.total", total=total))
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
            allowed: InputLimits = DEFAULT_LIMITS, locale: str | None = None) -> Asked:
    """Check everything a message needs and build its request, or raise a `PlaygroundError` that says what to do.

    `allowed`: how much text and how many files the app takes (the engine's limits); `locale`: the language the
    chat shows the message in."""
    spec = catalog.get(model)
    if Task.VISION not in spec.tasks:
        able = ", ".join(s.key for s in catalog.with_task(Task.VISION))
        if not able:
            raise InvalidRequestError("vision.text_only_none", model=model)
        raise InvalidRequestError("vision.text_only", model=model, able=able)
    if mode not in MODES:
        raise InvalidRequestError("vision.unknown_mode", mode=mode, ask=ASK, detect=DETECT)
    text = (text or "").strip()
    if len(text) > allowed.message_chars:
        raise too_long("message", len(text), allowed.message_chars)
    allowed.check_files(len(paths))  # before any file is opened
    kinds = [kind(path) for path in paths]
    if kinds.count("video") > 1:
        raise InvalidRequestError("vision.one_video")
    infos = [probe(path) for path in paths]  # each file is checked here, once
    parts = [media_part(path, info, limits) for path, info in zip(paths, infos, strict=True)]
    earlier = files_of(history)
    if not paths and not earlier:
        raise InvalidRequestError("vision.add_file")
    detect_image = None
    if mode == DETECT:
        images = [p for p, k in zip(paths, kinds, strict=True) if k == "image"] or \
                 [p for p in earlier if kind(p) == "image"][-1:]
        if not images:
            raise InvalidRequestError("vision.detect_needs_image")
        if not text:
            raise InvalidRequestError("vision.type_what")
        detect_image = images[0]
        question = detect_prompt(spec.family, text)
    else:
        if not text:
            raise InvalidRequestError("vision.type_question")
        question = text
    grid = Grid.of(spec.family)
    before, costs = costs_of(earlier, spec, limits), [cost(info, grid, limits) for info in infos]
    check_fits([*before, *costs], spec.window(context_limit), sampling.max_new_tokens)
    user: Message = {"role": "user", "content": [*parts, {"type": "text", "text": question}]}
    request = Request(model, [*history, user], sampling, thinking=bool(thinking) if spec.hybrid else None)
    shown = gr.ChatMessage(role="user", content=[*({"path": p} for p in paths), text if mode == ASK else
                                                 say(locale, "vision.detect_shown", text=text)])
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


def found_text(found: Found, locale: str | None = None) -> str:
    """The line under the boxes: how many were found, of what, and why some could not be read."""
    note = spoken(found.said, locale)
    if not found.boxes:
        return say(locale, "vision.no_boxes", note=note).strip()
    labels = say(locale, "common.list_separator").join(sorted({b.label or "?" for b in found.boxes}))
    return say(locale, "vision.found_boxes", count=len(found.boxes), labels=labels, note=note).strip()


def box_data(found: Found) -> list[dict[str, Any]]:
    return [{"label": b.label, "bbox_2d": [b.x1, b.y1, b.x2, b.y2], "point": b.is_point} for b in found.boxes]


def ask(engine: Engine, stops: Stops, context_limit: int | None, message: dict[str, Any] | None,
        camera: str | None, history: list[Message], shown: list[Any], model: str, mode: str, megapixels: Any,
        fps: Any, max_frames: Any, thinking: Any, max_new_tokens: Any, seed: Any, *presets: Any,
        request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Send: the chat, the history, the boxes image, the note under it, the message box, the camera."""
    locale = language_of(request)
    catalog = engine.registry.catalog
    message = message or {}
    paths = [*(message.get("files") or []), *([camera] if camera else [])]
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        limits = Limits.of(megapixels, fps, max_frames)
        asked = compose(catalog, context_limit, message.get("text", ""), paths, history, model, mode, limits,
                        thinking, sampling, engine.limits, locale)
    except (PlaygroundError, ValueError) as exc:  # the message stays in its box, to fix and send again
        yield [*shown, error_message(error_text(exc, locale))], history, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    shown = [*shown, asked.shown]
    cleared = gr.MultimodalTextbox(value=None)
    yield shown, history, gr.skip(), gr.skip(), cleared, None
    spec = catalog.get(model)
    for view in stream_reply(engine, asked.request, stops, (session_of(request), SLOT), language=locale):
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
            note = gr.Markdown(found_text(found, locale), visible=True)
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
    files_out = [{"name": c.info.name, "visual_tokens": c.tokens, "seen_as": c.seen(), "note": c.info.note}
                 for c in costs]
    for view in stream_reply(engine, asked.request, stops, (session_of(session), f"{SLOT}-api")):
        done = view.metrics is not None or view.error is not None
        out = {"answer": view.answer, "thinking": view.thinking, "error": view.error,
               "visual_tokens": sum(c.tokens for c in costs), "files": files_out, "done": done}
        if done and asked.detect_image is not None and view.error is None:
            found = boxes_of(view.answer, spec, asked.detect_image, limits)
            out.update(boxes=box_data(found), note=found.note)
        yield out


# --- words made when the page opens ---------------------------------------------------------------------------------


def fresh_choices(registry: Registry, models: list[ModelSpec], request: gr.Request | None = None) -> Any:
    """The model picker's labels as the registry is now, in the reader's language."""
    return gr.Dropdown(choices=picker.choices(registry, models, language_of(request)))


def follow_model(catalog: Catalog, model: str, thinking: bool, touched: list[str],
                 request: gr.Request | None = None) -> tuple[Any, ...]:
    """After a change of model or mode (or when the page opens): the thinking switch, the line said instead of it,
    and the preset's values for the sliders the user left alone."""
    return follow(catalog, model, thinking, touched, language_of(request))


def example_samples(locale: str | None = None) -> list[list[Any]]:
    """The examples in the reader's language: a message (the prompt and its file) and the mode."""
    return [[{"text": say(locale, key), "files": [str(path)]}, mode] for key, path, mode in EXAMPLES]


def show_examples(examples: gr.Examples, request: gr.Request | None = None) -> gr.Dataset:
    locale = language_of(request)
    return examples_in(examples, example_samples(locale), locale)


def mode_words(spec: ModelSpec, request: gr.Request | None = None) -> Any:
    """The line said instead of the thinking switch, for a model that has none."""
    line = mode_line(spec, language_of(request))
    return gr.Markdown(line, visible=bool(line))


# --- layout -------------------------------------------------------------------------------------------------------


def first_model(registry: Registry, models: Sequence[ModelSpec]) -> ModelSpec:
    """The smallest vision model that fits here (they are big: start small), else the first one."""
    fitting = [s for s in models if not s.unavailable and picker.fit(registry, s).fits is not None]
    return min(fitting, key=lambda s: s.params_billion or 0) if fitting else models[0]


AFTER = {"api_visibility": "private", "queue": False}


def build(catalog: Catalog, engine: Engine, registry: Registry, page: Page,
          context_limit: int | None = None) -> picker.Picked | None:
    """The tab; its model picker for the app (None without vision models)."""
    models = catalog.with_task(Task.VISION)
    if not models:
        gr.Markdown(t("vision.no_models"))
        return None
    first = first_model(registry, models)
    stops = Stops()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chat = gr.Chatbot(show_label=False, latex_delimiters=LATEX_DELIMITERS, height="50vh",
                              elem_id="vision-chat", buttons=["copy"])
            message = gr.MultimodalTextbox(
                show_label=False, file_types=["image", "video"], file_count="multiple", sources=["upload"],
                placeholder=t("vision.placeholder"), elem_id="vision-input",
            )
            with gr.Row():
                send = gr.Button(t("vision.send"), variant="primary", elem_id="vision-send")
                stop_button = gr.Button(t("vision.stop"), variant="stop", elem_id="vision-stop")
                new = gr.Button(t("vision.new"), elem_id="vision-new")
            boxes = gr.AnnotatedImage(visible=False, label=t("vision.found"), elem_id="vision-boxes", show_legend=True,
                                      height=460)
            boxes_note = gr.Markdown(visible=False, elem_id="vision-boxes-note")
            copy_as_code(engine, SLOT)
        with gr.Column(scale=2):
            with gr.Group():
                # Any key is let through, so an API caller naming a text model is told why (not "not a choice").
                # The picker's labels and the mode line are made when the page opens, in its language.
                model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label=t("vision.model"),
                                    elem_id="vision-model", filterable=True, allow_custom_value=True)
                switch = gr.Checkbox(value=False, label=t("vision.thinking"), visible=first.hybrid,
                                     elem_id="vision-thinking")
                said = gr.Markdown(padding=True, visible=False)
                mode = gr.Radio([(t("vision.ask"), ASK), (t("vision.detect"), DETECT)], value=ASK,
                                label=t("vision.mode"), elem_id="vision-mode", info=t("vision.mode_info"))
            budget = gr.Markdown(t(NOTHING_YET), elem_id="vision-budget")
            with gr.Accordion(t("vision.images_and_video"), open=True):
                megapixels = gr.Slider(*MEGAPIXELS, value=DEFAULT_MEGAPIXELS, step=0.05, label=t("vision.megapixels"),
                                       elem_id="vision-megapixels", info=t("vision.megapixels_info"))
                fps = gr.Slider(0.5, 4, value=DEFAULT_FPS, step=0.5, label=t("vision.fps"), elem_id="vision-fps")
                max_frames = gr.Slider(2, 128, value=DEFAULT_MAX_FRAMES, step=2, label=t("vision.max_frames"),
                                       elem_id="vision-max-frames")
            with gr.Accordion(t("vision.camera"), open=False):
                camera = gr.Image(sources=["webcam"], type="filepath", show_label=False, elem_id="vision-camera")
                gr.Markdown(t("vision.camera_help"))
            with gr.Accordion(t("vision.sampling"), open=False, elem_id="vision-sampling"):
                with gr.Row():
                    max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                               label=t("reply.max_new_tokens"), elem_id="vision-max-new-tokens")
                    seed = gr.Number(value=-1, precision=0, label=t("reply.seed"), info=t("reply.seed_info"))
                presets = preset_sliders(first.sampling_for(first.thinks))
    examples = gr.Examples(examples=example_samples(), inputs=[message, mode], label=t("vision.examples"),
                           cache_examples=False)

    history = gr.State([])
    touched = gr.State([])
    follow_fn = bound(follow_model, catalog)
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], [switch, said, *presets], **AFTER)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, **AFTER)
    page.load(bound(fresh_choices, registry, models), None, model, **AFTER)
    page.load(bound(mode_words, first), None, said, **AFTER)
    page.load(bound(show_examples, examples), None, examples.dataset, **AFTER)

    budget_inputs = [message, history, model, megapixels, fps, max_frames, max_new_tokens]
    budget_fn = bound(budget_markdown, catalog, context_limit)
    for trigger in (message.change, history.change, model.change, megapixels.release, fps.release,
                    max_frames.release, max_new_tokens.change):
        trigger(budget_fn, budget_inputs, budget, **AFTER)

    inputs = [message, camera, history, chat, model, mode, megapixels, fps, max_frames, switch, max_new_tokens,
              seed, *presets]
    outputs = [chat, history, boxes, boxes_note, message, camera]
    for trigger in (send.click, message.submit):
        trigger(bound(ask, engine, stops, context_limit), inputs, outputs, api_visibility="private",
                trigger_mode="once")
    stop_button.click(bound(stop, stops), None, None, **AFTER)
    new.click(clear, None, [chat, history, boxes, boxes_note, message], **AFTER)

    api_files = gr.File(file_count="multiple", visible=False)
    api_text = gr.Textbox(visible=False)
    api_pixels = gr.Number(value=int(DEFAULT_MEGAPIXELS * 1e6), precision=0, visible=False)
    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_inputs = [api_files, api_text, model, mode, api_pixels, fps, max_frames, switch, max_new_tokens, seed,
                  *presets]
    api_button.click(bound(vision_api, engine, stops, context_limit), api_inputs, api_result,
                     api_name="vision")
    return picker.Picked(model, lambda event: event.then(follow_fn, [model, switch, touched],
                                                         [switch, said, *presets], **AFTER))


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=say(None, TITLE)) as demo:
        page = Page.build(demo)
        build(services.catalog, services.engine, services.registry, page, services.settings.context_limit)
        page.finish()
    demo.queue().launch(i18n=translations())
