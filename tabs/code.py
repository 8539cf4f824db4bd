"""Code tab: the code, not a wall of chat text; a live preview, runnable Python, fill in the middle.

"Write code": a multi-turn chat with a code model whose system prompt names the language picked.
Every fenced block of the reply becomes a file (`playground.tasks.code`): a highlighted panel
with copy and download; the chat keeps the prose. An HTML reply (with its CSS and JS blocks
inlined) renders in a sandboxed iframe (`sandbox="allow-scripts"`, never `allow-same-origin`:
its scripts cannot reach this page, its cookies or its API). Run executes a Python file in the
sandbox the Math tab uses (`playground.tasks.sandbox`); where the sandbox stopped it, why is said in the
reader's language. Each sub-tab's Copy as code gives the script that reproduces its last request
(`tabs.copy_code`).

"Fill in the middle": a base Qwen2.5-Coder writes the code between a prefix and a suffix,
streamed into place, from the tokenizer's own FIM tokens (no chat template).

`/code` and `/fim` are the public API.

Words are `code.*` keys (`playground/locales/<language>/code.toml`): fixed ones through `t`, made
ones in the reader's language, `locale` here (`language` is the programming language the user
picked); the API's JSON errors are English.

    python -m tabs.code   # this tab alone, for development
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from playground.catalog import Catalog, ModelSpec, Sampling, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.i18n import say
from playground.registry import Registry
from playground.requests import Message, Request
from playground.tasks.code import Block, code_blocks, fim_prompt, prose
from playground.tasks.sandbox import Limits, Sandbox
from tabs import picker
from tabs.copy_code import copy_as_code
from tabs.examples import examples_in
from tabs.i18n import Page, language_of, t, words
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Stops,
    bound,
    error_message,
    follow,
    output_text,
    preset_sampling,
    preset_sliders,
    session_of,
    stop_reply,
    stream_reply,
    touch,
)

TITLE = "code.title"  # a message key
SLOT = "code"
FIM_SLOT = "fim"
LANGUAGES = ["Python", "JavaScript", "TypeScript", "HTML/CSS/JS", "C++", "Java", "Go", "Rust", "SQL", "Bash"]
DEFAULT_MAX_NEW_TOKENS = 2048
LONGEST_INPUT = 50_000  # characters of a message, a prefix or a suffix
# gr.Code highlights these; other languages show as plain text.
HIGHLIGHT = {"python": "python", "javascript": "javascript", "typescript": "typescript", "html": "html", "css": "css",
             "cpp": "cpp", "c": "c", "sql": "sql", "bash": "shell", "json": "json", "yaml": "yaml",
             "markdown": "markdown", "r": "r", "dockerfile": "dockerfile"}
EXAMPLES = [  # (the request's message key, the language picked)
    ("code.example_1", "Python"),
    ("code.example_2", "Python"),
    ("code.example_3", "HTML/CSS/JS"),
    ("code.example_4", "JavaScript"),
    ("code.example_5", "SQL"),
]
FIM_EXAMPLE = ("def is_prime(n: int) -> bool:\n", "\n    return True\n")
FIM_EXAMPLES = [  # a function body between its signature and its return (code: the same in every language)
    list(FIM_EXAMPLE),
    ["def mean(xs: list[float]) -> float:\n    \"\"\"The average of xs.\"\"\"\n", "\n    return total / len(xs)\n"],
    ["function debounce(fn, ms) {\n", "\n  return wrapped;\n}\n"],
]


def system_prompt(language: str) -> str:
    """Qwen's default system prompt, plus how to lay out code in the language picked."""
    return ("You are Qwen, created by Alibaba Cloud. You are a helpful assistant. "
            f"Write {language} code. Put each file in its own fenced code block with its language, and give its "
            "file name in a comment on the block's first line. Keep explanations short.")


# --- files, preview, run ---------------------------------------------------------------------------------


def files_update(blocks: list[Block], chosen: str | None = None, folder: Path | None = None,
                 locale: str | None = None) -> tuple[Any, ...]:
    """The file picker, the code panel, the download and the Run button for `blocks` (the `chosen` file shown).

    With a `folder` (once the reply has ended), the file is written there for the download button.
    """
    if not blocks:
        return (gr.Dropdown(choices=[], value=None, visible=False), gr.Code(value="", visible=False),
                gr.DownloadButton(visible=False), gr.Button(visible=False))
    names = [b.filename for b in blocks]
    block = blocks[names.index(chosen)] if chosen in names else blocks[0]
    path = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(block.filename).name  # the model's name, never a path out of the folder
        path.write_text(block.code + "\n", encoding="utf-8")
    return (gr.Dropdown(choices=names, value=block.filename, visible=True),
            gr.Code(value=block.code, language=HIGHLIGHT.get(block.language), label=block.filename, visible=True),
            gr.DownloadButton(say(locale, "code.download_file", name=Path(block.filename).name),
                              value=str(path) if path else None,
                              visible=path is not None),
            gr.Button(visible=block.language == "python" and block.closed))


def downloads(request: gr.Request | None) -> Path:
    """Where this browser session's files are written for download."""
    return Path(".gradio") / "code-downloads" / session_of(request)


def preview_html(blocks: list[Block], locale: str | None = None) -> str:
    """The reply's web page in a sandboxed iframe (its CSS and JS blocks inlined), or "" when it has none."""
    pages = [b for b in blocks if b.language == "html"]
    if not pages:
        return ""
    page = pages[0].code
    styles = "".join(f"<style>\n{b.code}\n</style>\n" for b in blocks if b.language == "css")
    scripts = "".join(f"<script>\n{b.code}\n</script>\n" for b in blocks if b.language == "javascript")
    page = page.replace("</head>", styles + "</head>", 1) if "</head>" in page else styles + page
    page = page.replace("</body>", scripts + "</body>", 1) if "</body>" in page else page + scripts
    # allow-scripts without allow-same-origin: the page runs in an opaque origin, cut off from this one.
    title = html.escape(say(locale, "code.preview_title"), quote=True)
    return (f'<iframe id="code-preview-frame" title="{title}" sandbox="allow-scripts" referrerpolicy="no-referrer" '
            f'style="width:100%;height:420px;border:1px solid var(--border-color-primary);border-radius:8px;'
            f'background:white" srcdoc="{html.escape(page, quote=True)}"></iframe>')


def run_python(code: str, limits: Limits | None = None, locale: str | None = None) -> tuple[str, str]:
    """Run a file in a fresh sandbox: (what it printed, a status line with the exit status and the time), in
    `locale` where the sandbox stopped it."""
    if not code or not code.strip():
        return "", say(locale, "code.nothing_to_run")
    with Sandbox(limits or Limits()) as sandbox:
        result = sandbox.run(code)
    return (output_text(result.output, result.said, locale),
            say(locale, "code.run_ok" if result.ok else "code.run_failed", seconds=result.seconds))


def error_text(exc: Exception, locale: str | None) -> str:
    """A refused request's message in the reader's language (a library's own `ValueError` as it is)."""
    return exc.text(locale) if isinstance(exc, PlaygroundError) else str(exc)


# --- write code ---------------------------------------------------------------------------------------------------


def request_for(catalog: Catalog, message: str, history: list[Message], model: str, language: str, thinking: Any,
                sampling: Sampling) -> Request:
    if not message or not message.strip():
        raise InvalidRequestError("code.type_first")
    if len(message) > LONGEST_INPUT:
        raise InvalidRequestError("code.message_too_long", length=len(message), limit=LONGEST_INPUT)
    if language not in LANGUAGES:
        raise InvalidRequestError("code.unknown_language", language=language, valid=", ".join(LANGUAGES))
    spec = catalog.get(model)
    messages: list[Message] = [{"role": "system", "content": system_prompt(language)}, *history,
                               {"role": "user", "content": message}]
    return Request(model, messages, sampling, thinking=bool(thinking) if spec.hybrid else None).validated()


def default_language_of(language: str) -> str:
    """The language an unlabelled block is taken to be (`code_blocks` reads aliases such as "C++")."""
    return "html" if language == "HTML/CSS/JS" else language


def write(engine: Engine, stops: Stops, message: str, history: list[Message], shown: list[Any], model: str,
          language: str, thinking: Any, max_new_tokens: Any, seed: Any, *presets: Any,
          request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Send: the chat (prose), the files, the preview (once the reply ends), the history, the blocks."""
    locale = language_of(request)
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        asked = request_for(engine.registry.catalog, message, history, model, language, thinking, sampling)
    except (PlaygroundError, ValueError) as exc:
        yield [*shown, error_message(error_text(exc, locale))], *files_update([]), gr.skip(), history, [], gr.skip()
        return
    shown = [*shown, gr.ChatMessage(role="user", content=message)]
    blocks: list[Block] = []
    for view in stream_reply(engine, asked, stops, (session_of(request), SLOT), language=locale):
        blocks = code_blocks(view.answer, default_language_of(language))
        display = replace(view, answer=prose(view.answer, blocks))
        done = view.metrics is not None or view.error is not None
        out = [*shown, *display.messages()]
        page = preview_html(blocks, locale)
        preview = gr.HTML(page, visible=bool(page)) if done else gr.skip()
        answered = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": view.answer}]
        files = files_update(blocks, folder=downloads(request) if done else None, locale=locale)
        yield out, *files, preview, answered if done else history, blocks, gr.Markdown(visible=bool(blocks))


def show_file(name: str, blocks: list[Block], request: gr.Request | None = None) -> tuple[Any, ...]:
    return files_update(blocks, name, downloads(request), language_of(request))


def run_file(name: str, blocks: list[Block], request: gr.Request | None = None) -> tuple[Any, Any]:
    locale = language_of(request)
    block = next((b for b in blocks if b.filename == name), None)
    if block is None:
        return gr.Code(visible=False), ""
    output, status = run_python(block.code, locale=locale)
    return gr.Code(value=output or say(locale, "reply.nothing_printed"), visible=True,
                   label=say(locale, "code.output_of", filename=block.filename)), status


def stop(stops: Stops, slot: str, request: gr.Request | None = None) -> None:
    stop_reply(stops, (session_of(request), slot), [])


def clear() -> tuple[Any, ...]:
    return [], [], *files_update([]), gr.HTML("", visible=False), [], gr.Markdown(visible=False)


def code_api(engine: Engine, stops: Stops, request: str, model: str = "", language: str = "Python",
             thinking: bool = False, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, seed: int = -1,
             temperature: float = 0.7, top_p: float = 0.8, top_k: int = 20, min_p: float = 0.0,
             repetition_penalty: float = 1.05, session: gr.Request | None = None) -> Iterator[dict[str, Any]]:
    """Ask a code model for code (one turn): the reply text and the files in it (name, language, code, whether
    its block was closed), as they stream."""
    try:
        sampling = preset_sampling([temperature, top_p, top_k, min_p, repetition_penalty],
                                               max_new_tokens, seed)
        asked = request_for(engine.registry.catalog, request, [], model, language, thinking, sampling)
    except (PlaygroundError, ValueError) as exc:
        yield {"error": str(exc)}
        return
    for view in stream_reply(engine, asked, stops, (session_of(session), f"{SLOT}-api")):
        blocks = code_blocks(view.answer, default_language_of(language))
        yield {"reply": view.answer, "thinking": view.thinking, "error": view.error,
               "files": [{"filename": b.filename, "language": b.language, "code": b.code, "closed": b.closed}
                         for b in blocks],
               "done": view.metrics is not None or view.error is not None}


# --- fill in the middle ------------------------------------------------------------------------------------------


def fim_request(engine: Engine, prefix: str, suffix: str, model: str, sampling: Sampling) -> Request:
    catalog = engine.registry.catalog
    spec = catalog.get(model)
    if Task.FIM not in spec.tasks:
        able = ", ".join(s.key for s in catalog.with_task(Task.FIM))
        if not able:
            raise InvalidRequestError("code.not_fim_none", model=model)
        raise InvalidRequestError("code.not_fim", model=model, able=able)
    if len(prefix) + len(suffix) > LONGEST_INPUT:
        raise InvalidRequestError("code.gap_too_long", length=len(prefix) + len(suffix), limit=LONGEST_INPUT)
    return Request(model, [], sampling, completion=fim_prompt(prefix, suffix)).validated()


def fill(engine: Engine, stops: Stops, prefix: str, suffix: str, model: str, max_new_tokens: Any, seed: Any,
         *presets: Any, request: gr.Request | None = None) -> Iterator[tuple[Any, str]]:
    """Fill: the code with the middle streaming into place, and a status line."""
    locale = language_of(request)
    prefix, suffix = prefix or "", suffix or ""
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        asked = fim_request(engine, prefix, suffix, model, sampling)
    except (PlaygroundError, ValueError) as exc:
        yield gr.skip(), f"⚠️ {error_text(exc, locale)}"
        return
    for view in stream_reply(engine, asked, stops, (session_of(request), FIM_SLOT), language=locale):
        if view.error:
            yield gr.skip(), f"⚠️ {view.error}"
            return
        status = say(locale, "code.fim_loading" if view.loading else "code.fim_writing")
        if view.metrics is not None:
            status = say(locale, "code.fim_done", tokens=view.metrics.tokens, seconds=view.metrics.seconds)
        yield prefix + view.answer + suffix, status


def fim_api(engine: Engine, stops: Stops, prefix: str, suffix: str, model: str = "", max_new_tokens: int = 256,
            seed: int = -1, temperature: float = 0.0, top_p: float = 1.0, top_k: int = 1, min_p: float = 0.0,
            repetition_penalty: float = 1.0, session: gr.Request | None = None) -> Iterator[dict[str, Any]]:
    """Fill in the middle with a base Coder model: the code between `prefix` and `suffix`, as it streams."""
    try:
        sampling = preset_sampling([temperature, top_p, top_k, min_p, repetition_penalty],
                                               max_new_tokens, seed)
        asked = fim_request(engine, prefix or "", suffix or "", model, sampling)
    except (PlaygroundError, ValueError) as exc:
        yield {"error": str(exc)}
        return
    for view in stream_reply(engine, asked, stops, (session_of(session), f"{FIM_SLOT}-api")):
        yield {"middle": view.answer, "error": view.error,
               "done": view.metrics is not None or view.error is not None}


# --- words made when the page opens -------------------------------------------------------------------------------


def fresh_choices(registry: Registry, models: list[ModelSpec], request: gr.Request | None = None) -> Any:
    """The model picker's labels as the registry is now, in the reader's language."""
    return gr.Dropdown(choices=picker.choices(registry, models, language_of(request)))


def follow_model(catalog: Catalog, model: str, thinking: bool, touched: list[str],
                 request: gr.Request | None = None) -> tuple[Any, ...]:
    """After a change of model or mode: the thinking switch, the line said instead of it,
    and the preset's values for the sliders the user left alone."""
    return follow(catalog, model, thinking, touched, language_of(request))


def example_samples(locale: str | None = None) -> list[list[str]]:
    """The example requests in the reader's language, each with the language it picks."""
    return [[say(locale, key), language] for key, language in EXAMPLES]


def show_examples(examples: gr.Examples, request: gr.Request | None = None) -> gr.Dataset:
    locale = language_of(request)
    return examples_in(examples, example_samples(locale), locale)


def show_fim_examples(examples: gr.Examples, request: gr.Request | None = None) -> gr.Dataset:
    return examples_in(examples, FIM_EXAMPLES, language_of(request))


# --- layout -------------------------------------------------------------------------------------------------------

AFTER = {"api_visibility": "private", "queue": False}


def build(catalog: Catalog, engine: Engine, registry: Registry, page: Page) -> picker.Picked | None:
    """The tab; its writer's model picker for the app (None without writer models)."""
    writers = [s for s in catalog.with_task(Task.CODE) if Task.CHAT in s.tasks]
    fillers = catalog.with_task(Task.FIM)
    picked = None
    with gr.Tabs() as modes:
        with gr.Tab(t("code.write_tab"), id="code-write"):
            if writers:
                picked = build_writer(catalog, engine, registry, page, writers)
            else:
                gr.Markdown(t("code.no_models"))
        with gr.Tab(t("code.fim_tab"), id="code-fim"):
            build_filler(catalog, engine, registry, page, fillers)
    if picked is None:
        return None
    # A model picked from outside is the writer's: show the writer.
    return picker.Picked(picked.model, lambda event: picked.follow(event).then(
        lambda: gr.Tabs(selected="code-write"), None, modes, **AFTER))


def build_writer(catalog: Catalog, engine: Engine, registry: Registry, page: Page,
                 models: list[ModelSpec]) -> picker.Picked:
    first = picker.default_model(registry, models)
    stops = Stops()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chat = gr.Chatbot(show_label=False, latex_delimiters=LATEX_DELIMITERS, height="55vh", elem_id="code-chat",
                              buttons=["copy"])
            message = gr.Textbox(show_label=False, placeholder=t("code.placeholder"), lines=2, elem_id="code-input")
            with gr.Row():
                send = gr.Button(t("code.send"), variant="primary", elem_id="code-send")
                stop_button = gr.Button(t("code.stop"), variant="stop", elem_id="code-stop")
                new = gr.Button(t("code.new"), elem_id="code-new")
        with gr.Column(scale=2):
            with gr.Group():
                # The picker's labels are made when the page opens, the mode line when the model changes: in the
                # reader's language.
                model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label=t("code.model"),
                                    elem_id="code-model", filterable=True)
                language = gr.Dropdown(LANGUAGES, value="Python", label=t("code.language"), elem_id="code-language")
                switch = gr.Checkbox(value=False, label=t("code.thinking"), visible=first.hybrid,
                                     elem_id="code-thinking")
                said = gr.Markdown(padding=True, visible=False)
            with gr.Accordion(t("code.sampling"), open=False):
                with gr.Row():
                    max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                               label=t("reply.max_new_tokens"))
                    seed = gr.Number(value=-1, precision=0, label=t("reply.seed"), info=t("reply.seed_info"))
                presets = preset_sliders(first.sampling_for(False))
            files_title = gr.Markdown(t("code.files"), visible=False)
            file_picker = gr.Dropdown(label=t("code.file"), visible=False, elem_id="code-file")
            panel = gr.Code(visible=False, elem_id="code-panel", interactive=False, wrap_lines=False)
            with gr.Row():
                download_button = gr.DownloadButton(t("code.download"), visible=False, elem_id="code-download")
                run_button = gr.Button(t("code.run"), visible=False, elem_id="code-run", variant="secondary")
            run_output = gr.Code(visible=False, label=t("code.output"), elem_id="code-run-output", interactive=False)
            run_status = gr.Markdown(elem_id="code-run-status")
            copy_as_code(engine, SLOT)
    preview = gr.HTML(visible=False, elem_id="code-preview", padding=False)
    examples = gr.Examples(examples=example_samples(), inputs=[message, language], label=t("code.examples"),
                           cache_examples=False)

    history = gr.State([])
    blocks = gr.State([])
    touched = gr.State([])
    follow_fn = bound(follow_model, catalog)
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], [switch, said, *presets], **AFTER)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, **AFTER)
    page.load(bound(fresh_choices, registry, models), None, model, **AFTER)
    page.load(bound(show_examples, examples), None, examples.dataset, **AFTER)

    inputs = [message, history, chat, model, language, switch, max_new_tokens, seed, *presets]
    outputs = [chat, file_picker, panel, download_button, run_button, preview, history, blocks, files_title]
    for trigger in (send.click, message.submit):
        trigger(bound(write, engine, stops), inputs, outputs, api_visibility="private",
                trigger_mode="once").then(lambda: "", None, message, **AFTER)
    stop_button.click(bound(stop, stops, SLOT), None, None, **AFTER)
    new.click(clear, None, [chat, history, file_picker, panel, download_button, run_button, preview, blocks,
                            files_title], **AFTER)
    file_picker.input(show_file, [file_picker, blocks], [file_picker, panel, download_button, run_button], **AFTER)
    run_button.click(run_file, [file_picker, blocks], [run_output, run_status], api_visibility="private",
                     concurrency_limit=4)

    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_inputs = [message, model, language, switch, max_new_tokens, seed, *presets]
    api_button.click(bound(code_api, engine, stops), api_inputs, api_result, api_name="code")
    return picker.Picked(model, lambda event: event.then(follow_fn, [model, switch, touched],
                                                         [switch, said, *presets], **AFTER))


def build_filler(catalog: Catalog, engine: Engine, registry: Registry, page: Page, models: list[ModelSpec]) -> None:
    stops = Stops()
    if models:
        # Names the models that can: made when the page opens, in its language.
        helper = gr.Markdown()
        page.load(words("code.fim_help", models=", ".join(f"`{s.key}`" for s in models)), None, helper, **AFTER)
        first = picker.default_model(registry, models)
        choices, value = picker.choices(registry, models), first.key
        preset = first.sampling_for(False)
    else:
        gr.Markdown(t("code.fim_none"))
        choices, value, preset = [], None, Sampling(temperature=0)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            # Text boxes, not gr.Code: gr.Code strips a value's leading and trailing whitespace, and a gap's edges
            # (the newline and indentation before and after it) are what the model must fill between.
            prefix = gr.Textbox(value=FIM_EXAMPLE[0], label=t("code.prefix"), lines=6, max_lines=30,
                                elem_id="fim-prefix", elem_classes="code-text")
            suffix = gr.Textbox(value=FIM_EXAMPLE[1], label=t("code.suffix"), lines=6, max_lines=30,
                                elem_id="fim-suffix", elem_classes="code-text")
            with gr.Row():
                go = gr.Button(t("code.fill"), variant="primary", elem_id="fim-go")
                stop_button = gr.Button(t("code.stop"), variant="stop", elem_id="fim-stop")
        with gr.Column(scale=2):
            # Any key is let through, so a model that cannot fill in the middle is told why (not just "not a choice").
            model = gr.Dropdown(choices=choices, value=value, label=t("code.model"), elem_id="fim-model",
                                allow_custom_value=True)
            with gr.Accordion(t("code.sampling"), open=False):
                max_new_tokens = gr.Number(value=256, precision=0, minimum=1, label=t("reply.max_new_tokens"))
                seed = gr.Number(value=-1, precision=0, label=t("reply.seed"), info=t("reply.seed_info"))
                presets = preset_sliders(preset)
    examples = gr.Examples(examples=FIM_EXAMPLES, inputs=[prefix, suffix], label=t("code.gaps"),
                           cache_examples=False)
    page.load(bound(show_fim_examples, examples), None, examples.dataset, **AFTER)
    if models:
        page.load(bound(fresh_choices, registry, models), None, model, **AFTER)
    status = gr.Markdown(elem_id="fim-status")
    result = gr.Code(language="python", label=t("code.filled"), interactive=False, elem_id="fim-result")
    copy_as_code(engine, FIM_SLOT)
    inputs = [prefix, suffix, model, max_new_tokens, seed, *presets]
    go.click(bound(fill, engine, stops), inputs, [result, status], api_visibility="private",
             trigger_mode="once")
    stop_button.click(bound(stop, stops, FIM_SLOT), None, None, **AFTER)
    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(bound(fim_api, engine, stops), inputs, api_result, api_name="fim")


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=say(None, TITLE)) as app:
        page = Page.build(app)
        build(services.catalog, services.engine, services.registry, page)
        page.finish()
    app.launch(i18n=translations())
