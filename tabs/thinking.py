"""Thinking tab: one prompt, two columns, Qwen3 thinking on and off side by side.

What thinking buys and costs, shown to a learner: both columns stream at the same time (the
same model's two requests decode in one batch on a GPU), each with its thinking folded above
its answer, its figures as numbers (time to first token, time spent thinking, thinking and
answer tokens, tok/s) and an inspector with the exact prompt the model received. Under the
columns, once both end: the tokens and seconds thinking cost, and whether the final answers
agree (`playground.tasks.answers`). A thinking budget caps the thinking (Qwen's recipe) and
each column says when it cut in. One Send, one Stop (for both), one seed. Under each column, Copy as code
gives the script that reproduces that column's last request (`tabs.copy_code`).

Either column can pick any chat model: a hybrid Qwen3 shows the on/off switch, a thinking-only
model always thinks, an instruct model never does. `/compare_thinking` is the public API.

Every word is said in the reader's language: labels are `t(...)` keys, and what the server makes
(figures, the comparison, errors, the model pickers' labels, the examples) is `say(language, ...)`
with the language of the request (`tabs.i18n`); the words are in `locales/<language>/thinking.toml`.

    python -m tabs.thinking   # this tab alone, for development
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.catalog import Catalog, ModelSpec, Sampling, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.i18n import Said, say
from playground.registry import Registry
from playground.requests import Message, Request
from playground.tasks.answers import final_answer, same_answer
from tabs import picker
from tabs.copy_code import copy_as_code
from tabs.examples import examples_in
from tabs.i18n import Page, language_of, t
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Replies,
    ReplyView,
    Stops,
    bound,
    budget_box,
    budget_of,
    error_message,
    follow,
    mode_line,
    preset_sampling,
    preset_sliders,
    session_of,
    stop_many,
    stream_many,
    touch,
)

TITLE = "thinking.title"  # a message key
SLOT = "thinking"  # the Stop keys' slot: many_key(session, SLOT, side)
SIDES = ("left", "right")
DEFAULT_MAX_NEW_TOKENS = 4096
EXAMPLES = tuple(f"thinking.example_{n}" for n in range(1, 6))  # in the reader's language


@dataclass(frozen=True)
class Column:
    """One column's choice: the model, whether it thinks, its sampling."""

    model: str
    thinking: bool
    sampling: Sampling


# --- the comparison ---------------------------------------------------------------------------------


def column_error(catalog: Catalog, column: Column) -> Said | None:
    """Why a column cannot run as asked, or None."""
    spec = catalog.get(column.model)
    if column.thinking and not spec.thinks:
        return Said("thinking.does_not_think", {"model": column.model})
    if not column.thinking and spec.thinks and not spec.hybrid:
        return Said("thinking.always_thinks", {"model": column.model})
    return None


def compare(engine: Engine, stops: Stops, session: str, prompt: str, system_prompt: str, columns: dict[str, Column],
            thinking_budget: int | None, language: str | None = None) -> Iterator[Replies]:
    """Run both columns at once; yield them as they grow (at most 20 times a second), then once both have ended.

    A column that cannot run as asked says why in its place, in `language`; the other still runs.
    """
    if not prompt or not prompt.strip():
        error = say(language, "thinking.type_first")
        yield Replies({side: ReplyView(error=error, language=language) for side in SIDES}, set(SIDES))
        return
    messages: list[Message] = [{"role": "system", "content": system_prompt.strip()}] if system_prompt.strip() else []
    messages.append({"role": "user", "content": prompt})
    requests: dict[str, Request | str] = {}
    for side, column in columns.items():
        try:
            error = column_error(engine.registry.catalog, column)
            if error:
                raise InvalidRequestError(error)
            requests[side] = Request(column.model, messages, column.sampling, thinking=column.thinking,
                                     thinking_budget=thinking_budget if column.thinking else None).validated()
        except PlaygroundError as exc:
            requests[side] = exc.text(language)
    yield from stream_many(engine, requests, stops, session, SLOT, language=language)


# --- words and numbers ---------------------------------------------------------------------------------


def figures(view: ReplyView) -> dict[str, Any]:
    """One column's figures as numbers (None where not known yet)."""
    m = view.metrics
    return {
        "time_to_first_token_s": None if m is None or m.time_to_first_token_s is None
        else round(m.time_to_first_token_s, 3),
        "thinking_s": None if view.thought_s is None else round(view.thought_s, 2),
        "thinking_tokens": None if m is None else m.thinking_tokens,
        "answer_tokens": None if m is None else m.answer_tokens,
        "tokens_per_s": None if m is None else round(m.tokens_per_s, 2),
        "seconds": None if m is None else round(m.seconds, 2),
        "thinking_budget_reached": None if m is None else m.thinking_cut,
        "final_answer": final_answer(view.answer) if m is not None else None,
    }


def figures_html(view: ReplyView, language: str | None = None) -> str:
    """One column's figures, each a label over its number (empty until the column ends), in `language`."""
    if view.metrics is None:
        return ""

    def said(key: str, **params: Any) -> str:
        return say(language, key, **params)

    f = figures(view)
    ttft, thought = f["time_to_first_token_s"], f["thinking_s"]
    cells = {"figure_first_token": said("thinking.unknown") if ttft is None
             else said("thinking.first_token_s", seconds=ttft),
             "figure_thinking": said("thinking.unknown") if thought is None
             else said("thinking.thinking_s", seconds=thought),
             "figure_thinking_tokens": said("thinking.token_count", tokens=f["thinking_tokens"]),
             "figure_answer_tokens": said("thinking.token_count", tokens=f["answer_tokens"]),
             "figure_speed": said("thinking.speed", rate=f["tokens_per_s"])}
    items = "".join(f"<div><dt>{said(f'thinking.{name}')}</dt><dd>{value}</dd></div>" for name, value in cells.items())
    cut = f["thinking_budget_reached"]
    note = f'<p class="figures-note">{said("thinking.budget_cut")}</p>' if cut else ""
    return f'<dl class="figures">{items}</dl>{note}'


def summary(state: Replies, columns: dict[str, Column]) -> dict[str, Any]:
    """What thinking cost, and whether the answers agree (None where a column has no metrics)."""
    left, right = (state.views[side].metrics for side in SIDES)
    if left is None or right is None:
        return {"extra_tokens": None, "extra_seconds": None, "answers_agree": None}
    thinking_side, plain_side = (("left", "right") if columns["left"].thinking and not columns["right"].thinking
                                 else ("right", "left"))
    thinker, plain = state.views[thinking_side].metrics, state.views[plain_side].metrics
    answers = [final_answer(state.views[side].answer) for side in SIDES]
    return {"extra_tokens": thinker.tokens - plain.tokens, "extra_seconds": round(thinker.seconds - plain.seconds, 2),
            "answers_agree": same_answer(*answers), "final_answers": answers, "thinking_side": thinking_side}


def summary_text(state: Replies, columns: dict[str, Column], language: str | None = None) -> str:
    """The comparison in words, in `language` (empty until both columns have ended with metrics)."""
    if not state.finished:
        return ""
    s = summary(state, columns)
    if s["extra_tokens"] is None:
        return ""
    parts = []
    if columns["left"].thinking != columns["right"].thinking:
        parts.append(say(language, f"thinking.cost_{s['thinking_side']}", tokens=s["extra_tokens"],
                         seconds=s["extra_seconds"]))
    left, right = s["final_answers"]
    if s["answers_agree"] is None:
        parts.append(say(language, "thinking.no_answers" if left is None and right is None else "thinking.one_answer"))
    else:
        parts.append(say(language, "thinking.answers_agree" if s["answers_agree"] else "thinking.answers_differ",
                         left=left, right=right))
    return say(language, "thinking.sentence_separator").join(parts)


# --- handlers ------------------------------------------------------------------------------------------


def compare_thinking(
    engine: Engine,
    stops: Stops,
    prompt: str,
    system_prompt: str = "",
    thinking_budget: int | None = None,
    seed: int = -1,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    left_model: str = "",
    left_thinking: bool = True,
    left_temperature: float = 0.6,
    left_top_p: float = 0.95,
    left_top_k: int = 20,
    left_min_p: float = 0.0,
    left_repetition_penalty: float = 1.0,
    right_model: str = "",
    right_thinking: bool = False,
    right_temperature: float = 0.7,
    right_top_p: float = 0.8,
    right_top_k: int = 20,
    right_min_p: float = 0.0,
    right_repetition_penalty: float = 1.0,
    request: gr.Request | None = None,
) -> Iterator[dict[str, Any]]:
    """Compare two columns on one prompt: each column's thinking, answer, prompt text and figures (numbers),
    and the comparison (extra tokens and seconds of thinking, whether the final answers agree).

    `thinking_budget` (empty or -1: none) caps the thinking columns; `seed` -1 is random.
    """
    try:
        left = [left_temperature, left_top_p, left_top_k, left_min_p, left_repetition_penalty]
        right = [right_temperature, right_top_p, right_top_k, right_min_p, right_repetition_penalty]
        columns = {
            "left": Column(left_model, bool(left_thinking), preset_sampling(left, max_new_tokens, seed)),
            "right": Column(right_model, bool(right_thinking),
                            preset_sampling(right, max_new_tokens, seed)),
        }
        budget = budget_of(thinking_budget)
        for column in columns.values():
            engine.registry.catalog.get(column.model)
    except PlaygroundError as exc:
        yield {"error": str(exc)}
        return
    for state in compare(engine, stops, session_of(request), prompt, system_prompt, columns, budget,
                         language_of(request)):
        yield as_json(state, columns)


def as_json(state: Replies, columns: dict[str, Column]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in SIDES:
        view = state.views[side]
        out[side] = {"model": columns[side].model, "thinking_mode": columns[side].thinking, "thinking": view.thinking,
                     "answer": view.answer, "prompt": view.prompt.text if view.prompt else None,
                     "error": view.error, "figures": figures(view)}
    out["comparison"] = summary(state, columns) if state.finished else None
    out["done"] = state.finished
    return out


def run_ui(engine: Engine, stops: Stops, prompt: str, system_prompt: str, thinking_budget: Any, seed: Any,
           max_new_tokens: Any, *values: Any, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Send: both columns stream; yields (chat, figures, prompt) per column, then the comparison."""
    language = language_of(request)
    per_side = len(values) // 2
    try:
        columns = {}
        for side, chunk in zip(SIDES, (values[:per_side], values[per_side:]), strict=True):
            model, thinking, *numbers = chunk
            columns[side] = Column(model, bool(thinking), preset_sampling(numbers, max_new_tokens, seed))
        budget = budget_of(thinking_budget)
    except (PlaygroundError, ValueError) as exc:
        message = [error_message(exc.text(language) if isinstance(exc, PlaygroundError) else str(exc))]
        yield message, "", "", message, "", "", ""
        return
    for state in compare(engine, stops, session_of(request), prompt, system_prompt, columns, budget, language):
        outputs: list[Any] = []
        for side in SIDES:
            view = state.views[side]
            outputs += [view.messages(), figures_html(view, language), view.prompt.text if view.prompt else ""]
        yield (*outputs, summary_text(state, columns, language))


def stop_both(stops: Stops, request: gr.Request | None = None) -> None:
    stop_many(stops, session_of(request), SLOT, SIDES)


def follow_column(catalog: Catalog, model: str, thinking: bool, touched: list[str],
                  request: gr.Request | None = None) -> tuple[Any, ...]:
    """A column's model or mode changed: its switch, its mode line (in the reader's language) and its preset."""
    return follow(catalog, model, thinking, touched, language_of(request))


def example_samples(language: str | None = None) -> list[list[str]]:
    """The example prompts in `language`, one per row of the examples table."""
    return [[say(language, key)] for key in EXAMPLES]


def show_examples(examples: gr.Examples, request: gr.Request | None = None) -> gr.Dataset:
    """When the page opens: the examples table in its language."""
    language = language_of(request)
    return examples_in(examples, example_samples(language), language)


def page_words(catalog: Catalog, registry: Registry, models: list[ModelSpec], left_model: str, right_model: str,
               request: gr.Request | None = None) -> tuple[Any, ...]:
    """When the page opens: each column's model picker and mode line, in its language."""
    language = language_of(request)
    out: list[Any] = []
    for key in (left_model, right_model):
        mode = mode_line(catalog.get(key), language) if key in catalog.models else ""
        out += [gr.Dropdown(choices=picker.choices(registry, models, language)), gr.Markdown(mode, visible=bool(mode))]
    return tuple(out)


# --- layout -------------------------------------------------------------------------------------------------


def default_model(registry: Registry, specs: list[ModelSpec]) -> ModelSpec:
    hybrid = [s for s in specs if s.hybrid]
    best = picker.default_model(registry, specs)
    return best if best.hybrid or not hybrid else hybrid[0]


def build_column(side: str, catalog: Catalog, engine: Engine, registry: Registry, models: list[ModelSpec],
                 first: ModelSpec, thinking: bool) -> dict[str, Any]:
    with gr.Column(elem_id=f"thinking-{side}"):
        with gr.Group():
            # The picker's labels and the mode line are made words: said again when the page opens (`page_words`).
            model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label=t("thinking.model"),
                                elem_id=f"thinking-{side}-model", filterable=True)
            switch = gr.Checkbox(value=thinking, label=t("thinking.thinking"), visible=first.hybrid,
                                 elem_id=f"thinking-{side}-switch")
            mode = gr.Markdown(mode_line(first), padding=True, visible=bool(mode_line(first)),
                               elem_id=f"thinking-{side}-mode")
        chat = gr.Chatbot(label=t(f"thinking.{side}_column"), show_label=False, latex_delimiters=LATEX_DELIMITERS,
                          height="50vh", elem_id=f"thinking-{side}-chat", buttons=["copy"])
        numbers = gr.HTML(elem_id=f"thinking-{side}-figures", padding=False)
        with gr.Accordion(t("thinking.inspector"), open=False, elem_id=f"thinking-{side}-inspector"):
            prompt_text = gr.Code(language=None, show_label=False, elem_id=f"thinking-{side}-prompt", wrap_lines=True)
        with gr.Accordion(t("thinking.sampling"), open=False):  # max new tokens and the seed are shared, above
            presets = preset_sliders(first.sampling_for(thinking and first.thinks))
        copy_as_code(engine, SLOT, column=side)  # this column's request: many_key(session, SLOT, side)
    touched = gr.State([])
    follow_fn = bound(follow_column, catalog)
    outputs = [switch, mode, *presets]
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], outputs, api_visibility="private", queue=False)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, api_visibility="private", queue=False)
    return {"model": model, "switch": switch, "mode": mode, "chat": chat, "figures": numbers, "prompt": prompt_text,
            "presets": presets}


def build(catalog: Catalog, engine: Engine, registry: Registry, page: Page) -> None:
    models = catalog.with_task(Task.CHAT)
    if not any(spec.thinks for spec in models):
        gr.Markdown(t("thinking.no_models"))
        return
    first = default_model(registry, models)
    gr.Markdown(t("thinking.intro"))
    prompt = gr.Textbox(label=t("thinking.prompt"), lines=2, placeholder=t("thinking.prompt_placeholder"),
                        elem_id="thinking-prompt")
    with gr.Row():
        send = gr.Button(t("thinking.send"), variant="primary", elem_id="thinking-send")
        stop_button = gr.Button(t("thinking.stop"), variant="stop", elem_id="thinking-stop")
    with gr.Accordion(t("thinking.settings"), open=False):
        system_prompt = gr.Textbox(value="", label=t("thinking.system_prompt"), placeholder=t("thinking.optional"),
                                   lines=2)
        with gr.Row():
            budget = budget_box(elem_id="thinking-budget")
            max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                       label=t("thinking.max_new_tokens"), elem_id="thinking-max-new-tokens")
            seed = gr.Number(value=-1, precision=0, label=t("thinking.seed"), info=t("thinking.seed_info"))
    with gr.Row(equal_height=False):
        left = build_column("left", catalog, engine, registry, models, first, thinking=True)
        right = build_column("right", catalog, engine, registry, models, first, thinking=False)
    comparison = gr.Markdown(elem_id="thinking-comparison")
    # gr.Examples is made once for everyone: its table is said again in the reader's language when the page opens.
    examples = gr.Examples(examples=example_samples(), inputs=prompt, label=t("thinking.examples"),
                           cache_examples=False)
    page.load(bound(page_words, catalog, registry, models), [left["model"], right["model"]],
              [left["model"], left["mode"], right["model"], right["mode"]], queue=False)
    page.load(bound(show_examples, examples), None, examples.dataset, queue=False)

    stops = Stops()
    column_inputs = [left["model"], left["switch"], *left["presets"], right["model"], right["switch"],
                     *right["presets"]]
    inputs = [prompt, system_prompt, budget, seed, max_new_tokens, *column_inputs]
    outputs = [left["chat"], left["figures"], left["prompt"], right["chat"], right["figures"], right["prompt"],
               comparison]
    for trigger in (send.click, prompt.submit):
        trigger(bound(run_ui, engine, stops), inputs, outputs, api_visibility="private",
                trigger_mode="once")
    stop_button.click(bound(stop_both, stops), None, None, api_visibility="private", queue=False)

    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(bound(compare_thinking, engine, stops), inputs, api_result,
                     api_name="compare_thinking")


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
