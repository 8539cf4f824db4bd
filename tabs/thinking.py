"""Thinking tab: one prompt, two columns, Qwen3 thinking on and off side by side.

What thinking buys and costs, shown to a learner: both columns stream at the same time (the
same model's two requests decode in one batch on a GPU), each with its thinking folded above
its answer, its figures as numbers (time to first token, time spent thinking, thinking and
answer tokens, tok/s) and an inspector with the exact prompt the model received. Under the
columns, once both end: the tokens and seconds thinking cost, and whether the final answers
agree (`playground.tasks.answers`). A thinking budget caps the thinking (Qwen's recipe) and
each column says when it cut in. One Send, one Stop (for both), one seed.

Either column can pick any chat model: a hybrid Qwen3 shows the on/off switch, a thinking-only
model always thinks, an instruct model never does. `/compare_thinking` is the public API.

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
from playground.registry import Registry
from playground.requests import Message, Request
from playground.tasks.answers import final_answer, same_answer
from tabs import picker
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Replies,
    ReplyView,
    Stops,
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

TITLE = "Thinking"
SIDES = ("left", "right")
DEFAULT_MAX_NEW_TOKENS = 4096
EXAMPLES = [
    "How many times does the letter r appear in the word strawberry?",
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?",
    "一个笼子里有鸡和兔共35只，脚共94只。鸡和兔各有几只？",
    "Alice est plus grande que Bob, Bob est plus grand que Chloé. Qui est la plus petite ?",
    "Si tengo 3 manzanas y me como 2, y luego compro el doble de las que me quedan, ¿cuántas tengo?",
]


@dataclass(frozen=True)
class Column:
    """One column's choice: the model, whether it thinks, its sampling."""

    model: str
    thinking: bool
    sampling: Sampling


# --- the comparison ---------------------------------------------------------------------------------


def column_error(catalog: Catalog, column: Column) -> str | None:
    """Why a column cannot run as asked, or None."""
    spec = catalog.get(column.model)
    if column.thinking and not spec.thinks:
        return (f"{column.model} does not think: pick a Qwen3 model (hybrid or Thinking-2507) for a thinking column, "
                "or turn thinking off.")
    if not column.thinking and spec.thinks and not spec.hybrid:
        return f"{column.model} always thinks (a Thinking model): pick a hybrid or instruct model to compare without."
    return None


def compare(engine: Engine, stops: Stops, session: str, prompt: str, system_prompt: str, columns: dict[str, Column],
            thinking_budget: int | None) -> Iterator[Replies]:
    """Run both columns at once; yield them as they grow (at most 20 times a second), then once both have ended.

    A column that cannot run as asked says why in its place; the other still runs.
    """
    if not prompt or not prompt.strip():
        yield Replies({side: ReplyView(error="Type a prompt first.") for side in SIDES}, set(SIDES))
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
            requests[side] = str(exc)
    yield from stream_many(engine, requests, stops, session, TITLE)


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


def figures_html(view: ReplyView) -> str:
    """One column's figures, each a label over its number (empty until the column ends)."""
    if view.metrics is None:
        return ""
    f = figures(view)
    ttft, thought = f["time_to_first_token_s"], f["thinking_s"]
    cells = {"First token": "–" if ttft is None else f"{ttft:.2f} s",
             "Thinking": "–" if thought is None else f"{thought:.1f} s",
             "Thinking tokens": f"{f['thinking_tokens']:,}",
             "Answer tokens": f"{f['answer_tokens']:,}",
             "Speed": f"{f['tokens_per_s']:.1f} tok/s"}
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in cells.items())
    cut = f["thinking_budget_reached"]
    note = '<p class="figures-note">The thinking budget cut the thinking short.</p>' if cut else ""
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


def summary_text(state: Replies, columns: dict[str, Column]) -> str:
    if not state.finished:
        return ""
    s = summary(state, columns)
    if s["extra_tokens"] is None:
        return ""
    parts = []
    if columns["left"].thinking != columns["right"].thinking:
        parts.append(f"Thinking ({s['thinking_side']}) cost **{s['extra_tokens']:+,} tokens** and "
                     f"**{s['extra_seconds']:+.1f} s** against the other column.")
    left, right = s["final_answers"]
    if s["answers_agree"] is None:
        parts.append("Neither column gave a final answer (a `\\boxed{}` one or a number) to compare."
                     if left is None and right is None else
                     "Only one column gave a final answer (a `\\boxed{}` one or a number): nothing to compare.")
    else:
        verdict = "agree" if s["answers_agree"] else "differ"
        parts.append(f"Final answers: `{left}` and `{right}`: they **{verdict}**.")
    return " ".join(parts)


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
    for state in compare(engine, stops, session_of(request), prompt, system_prompt, columns, budget):
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
    per_side = len(values) // 2
    try:
        columns = {}
        for side, chunk in zip(SIDES, (values[:per_side], values[per_side:]), strict=True):
            model, thinking, *numbers = chunk
            columns[side] = Column(model, bool(thinking), preset_sampling(numbers, max_new_tokens, seed))
        budget = budget_of(thinking_budget)
    except (PlaygroundError, ValueError) as exc:
        message = [error_message(str(exc))]
        yield message, "", "", message, "", "", ""
        return
    for state in compare(engine, stops, session_of(request), prompt, system_prompt, columns, budget):
        outputs: list[Any] = []
        for side in SIDES:
            view = state.views[side]
            outputs += [view.messages(), figures_html(view), view.prompt.text if view.prompt else ""]
        yield (*outputs, summary_text(state, columns))


def stop_both(stops: Stops, request: gr.Request | None = None) -> None:
    stop_many(stops, session_of(request), TITLE, SIDES)


# --- layout -------------------------------------------------------------------------------------------------


def default_model(registry: Registry, specs: list[ModelSpec]) -> ModelSpec:
    hybrid = [s for s in specs if s.hybrid]
    best = picker.default_model(registry, specs)
    return best if best.hybrid or not hybrid else hybrid[0]


def build_column(side: str, catalog: Catalog, registry: Registry, models: list[ModelSpec], first: ModelSpec,
                 thinking: bool) -> dict[str, Any]:
    with gr.Column(elem_id=f"thinking-{side}"):
        with gr.Group():
            model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label="Model",
                                elem_id=f"thinking-{side}-model", filterable=True)
            switch = gr.Checkbox(value=thinking, label="Thinking", visible=first.hybrid,
                                 elem_id=f"thinking-{side}-switch")
            mode = gr.Markdown(mode_line(first), padding=True, visible=bool(mode_line(first)),
                               elem_id=f"thinking-{side}-mode")
        chat = gr.Chatbot(label=f"{side.title()} column", show_label=False, latex_delimiters=LATEX_DELIMITERS,
                          height="50vh", elem_id=f"thinking-{side}-chat", buttons=["copy"])
        numbers = gr.HTML(elem_id=f"thinking-{side}-figures", padding=False)
        with gr.Accordion("Prompt the model received", open=False, elem_id=f"thinking-{side}-inspector"):
            prompt_text = gr.Code(language=None, show_label=False, elem_id=f"thinking-{side}-prompt", wrap_lines=True)
        with gr.Accordion("Sampling", open=False):  # max new tokens and the seed are shared, above
            presets = preset_sliders(first.sampling_for(thinking and first.thinks))
    touched = gr.State([])
    follow_fn = functools.partial(follow, catalog)
    outputs = [switch, mode, *presets]
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], outputs, api_visibility="private", queue=False)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, api_visibility="private", queue=False)
    return {"model": model, "switch": switch, "chat": chat, "figures": numbers, "prompt": prompt_text,
            "presets": presets}


def build(catalog: Catalog, engine: Engine, registry: Registry) -> None:
    models = catalog.with_task(Task.CHAT)
    if not any(spec.thinks for spec in models):
        gr.Markdown("The catalogue has no model that thinks (the `thinking` task).")
        return
    first = default_model(registry, models)
    gr.Markdown("Ask once; see what Qwen3's thinking buys and costs. Left thinks, right does not; pick any model "
                "and mode for either side.")
    prompt = gr.Textbox(label="Prompt", lines=2, placeholder="A question where thinking might matter…",
                        elem_id="thinking-prompt")
    with gr.Row():
        send = gr.Button("Send", variant="primary", elem_id="thinking-send")
        stop_button = gr.Button("Stop", variant="stop", elem_id="thinking-stop")
    with gr.Accordion("System prompt, budget, length, seed", open=False):
        system_prompt = gr.Textbox(value="", label="System prompt", placeholder="Optional", lines=2)
        with gr.Row():
            budget = budget_box(elem_id="thinking-budget")
            max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                       label="Max new tokens", elem_id="thinking-max-new-tokens")
            seed = gr.Number(value=-1, precision=0, label="Seed", info="-1 = random; the same for both columns")
    with gr.Row(equal_height=False):
        left = build_column("left", catalog, registry, models, first, thinking=True)
        right = build_column("right", catalog, registry, models, first, thinking=False)
    comparison = gr.Markdown(elem_id="thinking-comparison")
    gr.Examples(examples=[[e] for e in EXAMPLES], inputs=prompt, label="Prompts where thinking matters",
                cache_examples=False)

    stops = Stops()
    column_inputs = [left["model"], left["switch"], *left["presets"], right["model"], right["switch"],
                     *right["presets"]]
    inputs = [prompt, system_prompt, budget, seed, max_new_tokens, *column_inputs]
    outputs = [left["chat"], left["figures"], left["prompt"], right["chat"], right["figures"], right["prompt"],
               comparison]
    for trigger in (send.click, prompt.submit):
        trigger(functools.partial(run_ui, engine, stops), inputs, outputs, api_visibility="private",
                trigger_mode="once")
    stop_button.click(functools.partial(stop_both, stops), None, None, api_visibility="private", queue=False)

    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(functools.partial(compare_thinking, engine, stops), inputs, api_result,
                     api_name="compare_thinking")


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as app:
        build(services.catalog, services.engine, services.registry)
    app.launch()
