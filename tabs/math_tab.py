"""Math tab: a problem solved step by step or with Python, its final answer checked, a majority vote.

What Qwen2.5-Math and Qwen3 do on a math problem, shown the way a teacher wants it: the steps
streaming with LaTeX, Qwen3's thinking folded, each Python call folded with its output (the
model's code runs in a sandbox process: `playground.tasks.tir`), the final `\\boxed{}` answer shown
large and, given an expected answer, checked with math-verify (✓ / ✗). With k samples, k
solutions run at once (one batch on a GPU, each with its own seed) and vote: the answers,
grouped by equivalence, as a bar chart; every sample's solution can be opened. Copy as code gives the script
for sample 1's request (`tabs.copy_code`; with Python, the script makes the first step).

The two modes use Qwen2.5-Math's system prompts from its model card; Qwen3 gets the same ones
with its thinking mode. `/math` is the public API.

Every word is said in the reader's language: labels are `t(...)` keys, and what the server makes
(the answer and its check, the vote, errors, the model picker's labels, the modes' names, the
examples) is `say(language, ...)` with the language of the request (`tabs.i18n`); the words are in
`locales/<language>/math.toml`. The API's modes keep their English names.

    python -m tabs.math_tab   # this tab alone, for development
"""

from __future__ import annotations

import functools
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import gradio as gr
import pandas as pd

from playground.catalog import Catalog, ModelSpec, Sampling, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.i18n import Said, say
from playground.registry import Registry
from playground.requests import Message, Request
from playground.tasks import checking, tir
from playground.tasks.answers import boxed
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

TITLE = "math.title"  # a message key
SLOT = "math"  # the Stop keys' slot: many_key(session, SLOT, sample)
# Qwen2.5-Math's system prompts (model card, "Quick Start"): chain of thought and tool-integrated reasoning.
COT = "Please reason step by step, and put your final answer within \\boxed{}."
TIR = ("Please integrate natural language reasoning with programs to solve the problem above, and put your final "
       "answer within \\boxed{}.")
MODES = {"Step by step": COT, "With Python (TIR)": TIR}  # the API's names (values of the mode picker)
MODE_NAMES = {"Step by step": "math.mode_step_by_step", "With Python (TIR)": "math.mode_python"}  # what a reader sees
MAX_SAMPLES = 16
DEFAULT_MAX_NEW_TOKENS = 4096
LONGEST_PROBLEM = 20_000  # characters
NO_ANSWER = "(no answer)"  # what the API says for samples without a boxed answer (None in `Outcome.votes`)
EXAMPLES = (  # the problem (a message key: in the reader's language) and its expected answer
    ("math.example_1", "3x^2 + 4x - 5"),
    ("math.example_2", "\\{\\frac{-2-\\sqrt{19}}{3}, \\frac{-2+\\sqrt{19}}{3}\\}"),
    ("math.example_3", ""),
    ("math.example_4", "80"),
    ("math.example_5", "12"),
    ("math.example_6", "5050"),
    ("math.example_7", "5"),
)


@dataclass(frozen=True)
class Problem:
    """What to solve and how: the problem, the mode's system prompt, k samples, the model and its sampling."""

    text: str
    mode: str
    samples: int
    model: str
    thinking: bool
    sampling: Sampling
    expected: str | None = None

    def messages(self) -> list[Message]:
        return [{"role": "system", "content": MODES[self.mode]}, {"role": "user", "content": self.text}]


@dataclass(frozen=True)
class Outcome:
    """What the samples add up to: each one's answer, the vote, the winner and its check."""

    answers: list[str | None]  # the last \boxed{} of each sample's answer
    # Answer (the first of its equivalents; None for "no answer", last) and how many samples gave it, most first.
    votes: list[tuple[str | None, int]]
    winners: list[bool]  # per sample: its answer is (equivalent to) the winner
    correct: bool | None = None  # the winner against the expected answer (None: nothing to check, or undecided)
    said: Said | None = None  # why the check could not decide, said in the reader's language where it is shown

    @property
    def winner(self) -> str | None:
        return self.votes[0][0] if self.votes else None


# --- solving ----------------------------------------------------------------------------------------------


def problem_of(catalog: Catalog, text: str, mode: str, samples: Any, model: str, thinking: Any,
               sampling: Sampling, expected: str | None) -> Problem:
    """The problem as asked, or `InvalidRequestError` saying what to fix."""
    if not text or not text.strip():
        raise InvalidRequestError("math.type_first")
    if len(text) > LONGEST_PROBLEM:
        raise InvalidRequestError("math.too_long", length=len(text), limit=LONGEST_PROBLEM)
    if mode not in MODES:
        raise InvalidRequestError("math.unknown_mode", mode=mode, modes=", ".join(map(repr, MODES)))
    try:
        k = float(samples)
    except (TypeError, ValueError):
        k = -1.0
    if k != int(k) or not 1 <= k <= MAX_SAMPLES:
        raise InvalidRequestError("math.samples_range", most=MAX_SAMPLES, value=samples)
    if k > 1 and sampling.greedy:
        raise InvalidRequestError("math.vote_needs_temperature")
    spec = catalog.get(model)
    return Problem(text.strip(), mode, int(k), model, bool(thinking) if spec.hybrid else spec.thinks, sampling,
                   checking.read_expected(expected))


def sample_names(problem: Problem) -> list[str]:
    return [str(i + 1) for i in range(problem.samples)]


def solve(engine: Engine, stops: Stops, session: str, problem: Problem,
          language: str | None = None) -> Iterator[Replies]:
    """The k samples at once, each with its own seed (a random base when the seed is -1); yields them as they grow,
    their words in `language`."""
    base = problem.sampling.seed if problem.sampling.seed is not None else secrets.randbelow(2**31)
    requests: dict[str, Request | str] = {}
    for i, name in enumerate(sample_names(problem)):
        sampling = Sampling(**{**{f.name: getattr(problem.sampling, f.name) for f in fields(Sampling)},
                               "seed": base + i})
        try:
            requests[name] = Request(problem.model, problem.messages(), sampling, thinking=problem.thinking).validated()
        except PlaygroundError as exc:
            requests[name] = exc.text(language)
    run = tir.with_sandbox(engine) if MODES[problem.mode] == TIR else None
    yield from stream_many(engine, requests, stops, session, SLOT, run, language)


def outcome(replies: Replies, expected: str | None) -> Outcome:
    """Each sample's boxed answer, the vote over equivalent answers (math-verify), the winner and its check."""
    answers = [boxed(view.answer) for view in replies.views.values()]
    given = [i for i, a in enumerate(answers) if a is not None]
    # For each sample with an answer, the first sample whose answer is equivalent to it.
    groups = checking.groups([answers[i] for i in given]) if given else []
    leaders = {i: given[j] for i, j in zip(given, groups, strict=True)}
    counts = Counter(leaders.values())
    votes = [(answers[leader], n) for leader, n in counts.most_common()]
    if len(given) < len(answers):
        votes.append((None, len(answers) - len(given)))
    top = counts.most_common(1)[0][0] if counts else None
    result = Outcome(answers, votes, [top is not None and leaders.get(i) == top for i in range(len(answers))])
    if expected is None or result.winner is None:
        return result
    verdict = checking.check(expected, result.winner)
    return replace(result, correct=verdict.correct, said=verdict.said)


# --- words ------------------------------------------------------------------------------------------------------


def answer_markdown(replies: Replies, result: Outcome | None, expected: str | None,
                    language: str | None = None) -> str:
    """The final answer, large, with its check and the vote; or how far the samples are (in `language`)."""
    total = len(replies.views)
    if result is None:
        return say(language, "math.solving", done=len(replies.done), total=total) if total > 1 else ""
    if all(view.error for view in replies.views.values()):
        return ""
    if result.winner is None:
        parts = [say(language, "math.no_box_samples" if total > 1 else "math.no_box")]
        if any(v.metrics and v.metrics.finish.value == "length" for v in replies.views.values()):
            parts.append(say(language, "math.no_box_hint"))
        return say(language, "math.sentence_separator").join(parts)
    lines = [f"$$\\boxed{{{result.winner}}}$$"]
    if total > 1:
        lines.append(say(language, "math.majority", votes=result.votes[0][1], total=total))
    if expected is not None:
        if result.correct is True:
            lines.append(say(language, "math.correct", expected=expected))
        elif result.correct is False:
            lines.append(say(language, "math.wrong", expected=expected))
        else:
            note = result.said.text(language) if result.said else ""
            lines.append(say(language, "math.unchecked", expected=expected, note=note))
    return "\n\n".join(lines)


def answer_name(answer: str | None, language: str | None = None) -> str:
    """An answer as the vote shows it: "(no answer)" in `language` for a sample without a boxed one."""
    return say(language, "math.no_answer") if answer is None else answer


def vote_frame(result: Outcome | None, language: str | None = None) -> pd.DataFrame:
    rows = result.votes if result is not None else []
    return pd.DataFrame({"answer": [answer_name(a, language) for a, _ in rows], "samples": [n for _, n in rows]})


def vote_chart(result: Outcome | None, samples: int, language: str | None = None) -> Any:
    """The vote as a bar chart (shown once a vote over several samples is in), its titles in `language`."""
    return gr.BarPlot(vote_frame(result, language), y_lim=[0, samples], visible=samples > 1 and result is not None,
                      title=say(language, "math.votes"), x_title=say(language, "math.axis_answer"),
                      y_title=say(language, "math.axis_samples"))


def sample_label(name: str, view: ReplyView, language: str | None = None) -> str:
    return say(language, "math.sample", number=name, answer=answer_name(boxed(view.answer), language))


# --- handlers --------------------------------------------------------------------------------------------------


def run_ui(engine: Engine, stops: Stops, text: str, expected: str, mode: str, samples: Any, model: str,
           thinking: Any, max_new_tokens: Any, seed: Any, *presets: Any,
           request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Solve: yields (answer, shown solution, vote chart, sample picker, every sample's messages)."""
    language = language_of(request)
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        problem = problem_of(engine.registry.catalog, text, mode, samples, model, thinking, sampling, expected)
    except (PlaygroundError, ValueError) as exc:
        error = exc.text(language) if isinstance(exc, PlaygroundError) else str(exc)
        yield "", [error_message(error)], gr.BarPlot(visible=False), gr.Dropdown(visible=False), []
        return
    names = sample_names(problem)
    for replies in solve(engine, stops, session_of(request), problem, language):
        result = outcome(replies, problem.expected) if replies.finished else None
        solutions = [replies.views[name].messages() for name in names]
        # Once all have ended: the first sample that gives the winning answer.
        shown = next((n for n, won in zip(names, result.winners, strict=True) if won), names[0]) if result else names[0]
        choices = [(sample_label(name, replies.views[name], language), name) for name in names]
        yield (answer_markdown(replies, result, problem.expected, language), solutions[names.index(shown)],
               vote_chart(result, problem.samples, language),
               gr.Dropdown(choices=choices, value=shown, visible=problem.samples > 1), solutions)


def show_sample(name: str | None, solutions: list[list[Any]]) -> list[Any]:
    if not name or not solutions:
        return gr.skip()
    return solutions[int(name) - 1]


def stop_all(stops: Stops, request: gr.Request | None = None) -> None:
    stop_many(stops, session_of(request), SLOT, [str(i + 1) for i in range(MAX_SAMPLES)])


def math_api(
    engine: Engine,
    stops: Stops,
    problem: str,
    expected_answer: str = "",
    mode: str = "Step by step",
    samples: int = 1,
    model: str = "",
    thinking: bool = True,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    seed: int = -1,
    temperature: float = 0.7,
    top_p: float = 0.8,
    top_k: int = 20,
    min_p: float = 0.0,
    repetition_penalty: float = 1.0,
    request: gr.Request | None = None,
) -> Iterator[dict[str, Any]]:
    """Solve a math problem: each sample's solution (thinking, answer, Python calls, boxed answer, figures),
    the vote over the samples' answers, the winning answer and its check against `expected_answer`.

    `mode`: "Step by step" or "With Python (TIR)"; `samples` 1-16 (more than 1 needs temperature > 0).
    """
    try:
        sampling = preset_sampling([temperature, top_p, top_k, min_p, repetition_penalty],
                                               max_new_tokens, seed)
        asked = problem_of(engine.registry.catalog, problem, mode, samples, model, thinking, sampling,
                           expected_answer)
    except (PlaygroundError, ValueError) as exc:
        yield {"error": str(exc)}
        return
    for replies in solve(engine, stops, session_of(request), asked, language_of(request)):
        result = outcome(replies, asked.expected) if replies.finished else None
        yield {
            "solutions": [solution_json(view) for view in replies.views.values()],
            "answers": None if result is None else result.answers,
            "vote": None if result is None else [{"answer": NO_ANSWER if a is None else a, "samples": n}
                                                 for a, n in result.votes],
            "answer": None if result is None else result.winner,
            "expected_answer": asked.expected,
            "correct": None if result is None else result.correct,
            "done": replies.finished,
        }


def solution_json(view: ReplyView) -> dict[str, Any]:
    m = view.metrics
    return {
        "thinking": view.thinking,
        "answer": view.answer,
        "python": [{"code": c.code, "output": c.output, "ok": c.ok, "seconds": round(c.seconds, 3)}
                   for _, c in view.calls],
        "boxed": boxed(view.answer),
        "error": view.error,
        "tokens": None if m is None else m.tokens,
        "seconds": None if m is None else round(m.seconds, 2),
        "finish": None if m is None else m.finish.value,
    }


# --- layout ---------------------------------------------------------------------------------------------------


def follow_model(catalog: Catalog, model: str, thinking: bool, touched: list[str],
                 request: gr.Request | None = None) -> tuple[Any, ...]:
    """The model or mode changed: the switch, the mode line (in the reader's language) and the preset."""
    return follow(catalog, model, thinking, touched, language_of(request))


def mode_choices(language: str | None = None) -> list[tuple[str, str]]:
    """The modes as the picker shows them: (name in `language`, the API's name)."""
    return [(say(language, MODE_NAMES[mode]), mode) for mode in MODES]


def example_samples(language: str | None = None) -> list[list[str]]:
    """The example problems in `language`, each with its expected answer (a row of the examples table)."""
    return [[say(language, key), answer] for key, answer in EXAMPLES]


def show_examples(examples: gr.Examples, request: gr.Request | None = None) -> gr.Dataset:
    """When the page opens: the examples table in its language."""
    language = language_of(request)
    return examples_in(examples, example_samples(language), language)


def page_words(catalog: Catalog, registry: Registry, models: list[ModelSpec], model: str,
               request: gr.Request | None = None) -> tuple[Any, ...]:
    """When the page opens: the model picker, the mode line and the modes' names, in its language."""
    language = language_of(request)
    line = mode_line(catalog.get(model), language) if model in catalog.models else ""
    return (gr.Dropdown(choices=picker.choices(registry, models, language)), gr.Markdown(line, visible=bool(line)),
            gr.Radio(choices=mode_choices(language)))


def build(catalog: Catalog, engine: Engine, registry: Registry, page: Page) -> picker.Picked | None:
    """The tab; its model picker for the app (None without math models)."""
    models = catalog.with_task(Task.MATH)
    if not models:
        gr.Markdown(t("math.no_models"))
        return None
    first = picker.default_model(registry, models)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            problem = gr.Textbox(label=t("math.problem"), lines=3, placeholder=t("math.problem_placeholder"),
                                 elem_id="math-problem")
            expected = gr.Textbox(value="", label=t("math.expected"), elem_id="math-expected",
                                  placeholder=t("math.expected_placeholder"))
            with gr.Row():
                # The modes' names, the picker's labels and the mode line are made words: said again when the page
                # opens (`page_words`).
                mode = gr.Radio(mode_choices(), value="Step by step", label=t("math.mode"), elem_id="math-mode",
                                info=t("math.mode_info"))
                samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label=t("math.samples"),
                                    info=t("math.samples_info"), elem_id="math-samples")
            with gr.Row():
                send = gr.Button(t("math.solve"), variant="primary", elem_id="math-solve")
                stop_button = gr.Button(t("math.stop"), variant="stop", elem_id="math-stop")
        with gr.Column(scale=2):
            with gr.Group():
                model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label=t("math.model"),
                                    elem_id="math-model", filterable=True)
                switch = gr.Checkbox(value=True, label=t("math.thinking"), visible=first.hybrid,
                                     elem_id="math-thinking")
                said = gr.Markdown(mode_line(first), padding=True, visible=bool(mode_line(first)),
                                   elem_id="math-model-mode")
            with gr.Accordion(t("math.sampling"), open=False):
                with gr.Row():
                    max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                               label=t("math.max_new_tokens"), elem_id="math-max-new-tokens")
                    seed = gr.Number(value=-1, precision=0, label=t("math.seed"), info=t("math.seed_info"))
                presets = preset_sliders(first.sampling_for(first.thinks))
    answer = gr.Markdown(elem_id="math-answer", latex_delimiters=LATEX_DELIMITERS)
    with gr.Row(equal_height=False):
        solution = gr.Chatbot(label=t("math.solution"), show_label=False, latex_delimiters=LATEX_DELIMITERS,
                              height="60vh", elem_id="math-solution", buttons=["copy"], scale=3)
        with gr.Column(scale=2, min_width=260):
            # Hidden until a vote is in; each solve says its titles in the reader's language (`vote_chart`).
            votes = gr.BarPlot(x="answer", y="samples", title=say(None, "math.votes"), visible=False,
                               elem_id="math-votes", sort="-y")
            pick = gr.Dropdown(label=t("math.show_solution"), visible=False, elem_id="math-sample", choices=[])
    # Sample 1's request (with Python, the script says it makes the first step).
    copy_as_code(engine, SLOT, column="1")
    # gr.Examples is made once for everyone: its table is said again in the reader's language when the page opens.
    examples = gr.Examples(examples=example_samples(), inputs=[problem, expected], label=t("math.examples"),
                           cache_examples=False)
    page.load(bound(page_words, catalog, registry, models), model, [model, said, mode], queue=False)
    page.load(bound(show_examples, examples), None, examples.dataset, queue=False)

    stops = Stops()
    solutions = gr.State([])
    touched = gr.State([])
    follow_fn = bound(follow_model, catalog)
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], [switch, said, *presets], api_visibility="private",
                queue=False)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, api_visibility="private", queue=False)
    inputs = [problem, expected, mode, samples, model, switch, max_new_tokens, seed, *presets]
    for trigger in (send.click, problem.submit):
        trigger(bound(run_ui, engine, stops), inputs, [answer, solution, votes, pick, solutions],
                api_visibility="private", trigger_mode="once")
    stop_button.click(bound(stop_all, stops), None, None, api_visibility="private", queue=False)
    pick.input(show_sample, [pick, solutions], solution, api_visibility="private", queue=False)

    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(bound(math_api, engine, stops), inputs, api_result, api_name="math")
    return picker.Picked(model, lambda event: event.then(follow_fn, [model, switch, touched],
                                                         [switch, said, *presets], api_visibility="private",
                                                         queue=False))


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
