"""Math tab: a problem solved step by step or with Python, its final answer checked, a majority vote.

What Qwen2.5-Math and Qwen3 do on a math problem, shown the way a teacher wants it: the steps
streaming with LaTeX, Qwen3's thinking folded, each Python call folded with its output (the
model's code runs in a sandbox process: `playground.tasks.tir`), the final `\\boxed{}` answer shown
large and, given an expected answer, checked with math-verify (✓ / ✗). With k samples, k
solutions run at once (one batch on a GPU, each with its own seed) and vote: the answers,
grouped by equivalence, as a bar chart; every sample's solution can be opened.

The two modes use Qwen2.5-Math's system prompts from its model card; Qwen3 gets the same ones
with its thinking mode. `/math` is the public API.

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

from playground.catalog import Catalog, Sampling, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.registry import Registry
from playground.requests import Message, Request
from playground.tasks import checking, tir
from playground.tasks.answers import boxed
from tabs import picker
from tabs.reply import (
    LATEX_DELIMITERS,
    PRESET_FIELDS,
    Replies,
    ReplyView,
    Stops,
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

TITLE = "Math"
# Qwen2.5-Math's system prompts (model card, "Quick Start"): chain of thought and tool-integrated reasoning.
COT = "Please reason step by step, and put your final answer within \\boxed{}."
TIR = ("Please integrate natural language reasoning with programs to solve the problem above, and put your final "
       "answer within \\boxed{}.")
MODES = {"Step by step": COT, "With Python (TIR)": TIR}
MAX_SAMPLES = 16
DEFAULT_MAX_NEW_TOKENS = 4096
LONGEST_PROBLEM = 20_000  # characters
NO_ANSWER = "(no answer)"
EXAMPLES = [  # problem, expected answer
    ["Find the derivative of f(x) = x³ + 2x² − 5x + 3.", "3x^2 + 4x - 5"],
    ["Find the critical points of f(x) = x³ + 2x² − 5x + 3.",
     "\\{\\frac{-2-\\sqrt{19}}{3}, \\frac{-2+\\sqrt{19}}{3}\\}"],
    ["A company's revenue grows by 15% each year. If they had $2 million in revenue in 2020, and they want to reach "
     "$5 million by 2025, will they achieve this goal? If not, what growth rate would they need?", ""],
    ["A train travels 120 km in 1.5 hours. What is its average speed in km/h?", "80"],
    ["笼子里有鸡和兔共35只，脚共94只。兔有几只？", "12"],
    ["Quelle est la somme des entiers de 1 à 100 ?", "5050"],
    ["Si 3x + 7 = 22, ¿cuánto vale x?", "5"],
]


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
    votes: list[tuple[str, int]]  # answer (the first of its equivalents) and how many samples gave it, most first
    winners: list[bool]  # per sample: its answer is (equivalent to) the winner
    correct: bool | None = None  # the winner against the expected answer (None: nothing to check)
    note: str = ""

    @property
    def winner(self) -> str | None:
        return self.votes[0][0] if self.votes and self.votes[0][0] != NO_ANSWER else None


# --- solving ----------------------------------------------------------------------------------------------


def problem_of(catalog: Catalog, text: str, mode: str, samples: Any, model: str, thinking: Any,
               sampling: Sampling, expected: str | None) -> Problem:
    """The problem as asked, or `InvalidRequestError` saying what to fix."""
    if not text or not text.strip():
        raise InvalidRequestError("Type a problem first.")
    if len(text) > LONGEST_PROBLEM:
        raise InvalidRequestError(f"The problem is {len(text):,} characters long; at most {LONGEST_PROBLEM:,} are "
                                  "taken. Shorten it.")
    if mode not in MODES:
        raise InvalidRequestError(f"Unknown mode {mode!r}: use one of {', '.join(map(repr, MODES))}.")
    try:
        k = float(samples)
    except (TypeError, ValueError):
        k = -1.0
    if k != int(k) or not 1 <= k <= MAX_SAMPLES:
        raise InvalidRequestError(f"Samples must be a whole number from 1 to {MAX_SAMPLES}, got {samples!r}.")
    if k > 1 and sampling.greedy:
        raise InvalidRequestError("A majority vote needs different samples: set the temperature above 0, "
                                  "or ask for 1 sample.")
    spec = catalog.get(model)
    return Problem(text.strip(), mode, int(k), model, bool(thinking) if spec.hybrid else spec.thinks, sampling,
                   checking.read_expected(expected))


def sample_names(problem: Problem) -> list[str]:
    return [str(i + 1) for i in range(problem.samples)]


def solve(engine: Engine, stops: Stops, session: str, problem: Problem) -> Iterator[Replies]:
    """The k samples at once, each with its own seed (a random base when the seed is -1); yields them as they grow."""
    base = problem.sampling.seed if problem.sampling.seed is not None else secrets.randbelow(2**31)
    requests: dict[str, Request | str] = {}
    for i, name in enumerate(sample_names(problem)):
        sampling = Sampling(**{**{f.name: getattr(problem.sampling, f.name) for f in fields(Sampling)},
                               "seed": base + i})
        try:
            requests[name] = Request(problem.model, problem.messages(), sampling, thinking=problem.thinking).validated()
        except PlaygroundError as exc:
            requests[name] = str(exc)
    run = tir.with_sandbox(engine) if MODES[problem.mode] == TIR else None
    yield from stream_many(engine, requests, stops, session, TITLE, run)


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
        votes.append((NO_ANSWER, len(answers) - len(given)))
    top = counts.most_common(1)[0][0] if counts else None
    result = Outcome(answers, votes, [top is not None and leaders.get(i) == top for i in range(len(answers))])
    if expected is None or result.winner is None:
        return result
    verdict = checking.check(expected, result.winner)
    return replace(result, correct=verdict.correct, note=verdict.note)


# --- words ------------------------------------------------------------------------------------------------------


def answer_markdown(replies: Replies, result: Outcome | None, expected: str | None) -> str:
    """The final answer, large, with its check and the vote; or how far the samples are."""
    total = len(replies.views)
    if result is None:
        return f"Solving… {len(replies.done)} of {total} samples done." if total > 1 else ""
    if all(view.error for view in replies.views.values()):
        return ""
    if result.winner is None:
        return "No `\\boxed{}` answer in the solution" + ("s." if total > 1 else ".") + (
            " Try more new tokens, or the step-by-step mode." if any(
                v.metrics and v.metrics.finish.value == "length" for v in replies.views.values()) else "")
    lines = [f"$$\\boxed{{{result.winner}}}$$"]
    if total > 1:
        lines.append(f"{result.votes[0][1]} of {total} samples give this answer.")
    if expected is not None:
        if result.correct is True:
            lines.append(f"✓ Correct: it equals the expected answer ${expected}$.")
        elif result.correct is False:
            lines.append(f"✗ Not the expected answer ${expected}$.")
        else:
            lines.append(f"? Could not check it against ${expected}$ ({result.note}).")
    return "\n\n".join(lines)


def vote_frame(result: Outcome | None) -> pd.DataFrame:
    rows = result.votes if result is not None else []
    return pd.DataFrame({"answer": [a for a, _ in rows], "samples": [n for _, n in rows]})


def sample_label(name: str, view: ReplyView) -> str:
    answer = boxed(view.answer)
    return f"Sample {name} · {answer if answer is not None else NO_ANSWER}"


# --- handlers --------------------------------------------------------------------------------------------------


def run_ui(engine: Engine, stops: Stops, text: str, expected: str, mode: str, samples: Any, model: str,
           thinking: Any, max_new_tokens: Any, seed: Any, *presets: Any,
           request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Solve: yields (answer, shown solution, vote chart, sample picker, every sample's messages)."""
    try:
        sampling = preset_sampling(presets, max_new_tokens, seed)
        problem = problem_of(engine.registry.catalog, text, mode, samples, model, thinking, sampling, expected)
    except (PlaygroundError, ValueError) as exc:
        yield "", [error_message(str(exc))], gr.BarPlot(visible=False), gr.Dropdown(visible=False), []
        return
    names = sample_names(problem)
    for replies in solve(engine, stops, session_of(request), problem):
        result = outcome(replies, problem.expected) if replies.finished else None
        solutions = [replies.views[name].messages() for name in names]
        # Once all have ended: the first sample that gives the winning answer.
        shown = next((n for n, won in zip(names, result.winners, strict=True) if won), names[0]) if result else names[0]
        choices = [(sample_label(name, replies.views[name]), name) for name in names]
        yield (answer_markdown(replies, result, problem.expected), solutions[names.index(shown)],
               gr.BarPlot(vote_frame(result), y_lim=[0, problem.samples],
                          visible=problem.samples > 1 and result is not None),
               gr.Dropdown(choices=choices, value=shown, visible=problem.samples > 1), solutions)


def show_sample(name: str | None, solutions: list[list[Any]]) -> list[Any]:
    if not name or not solutions:
        return gr.skip()
    return solutions[int(name) - 1]


def stop_all(stops: Stops, request: gr.Request | None = None) -> None:
    stop_many(stops, session_of(request), TITLE, [str(i + 1) for i in range(MAX_SAMPLES)])


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
    for replies in solve(engine, stops, session_of(request), asked):
        result = outcome(replies, asked.expected) if replies.finished else None
        yield {
            "solutions": [solution_json(view) for view in replies.views.values()],
            "answers": None if result is None else result.answers,
            "vote": None if result is None else [{"answer": a, "samples": n} for a, n in result.votes],
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


def build(catalog: Catalog, engine: Engine, registry: Registry) -> None:
    models = catalog.with_task(Task.MATH)
    if not models:
        gr.Markdown("The catalogue has no model with the `math` task.")
        return
    first = picker.default_model(registry, models)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            problem = gr.Textbox(label="Problem", lines=3, placeholder="A math problem, in any language…",
                                 elem_id="math-problem")
            expected = gr.Textbox(value="", label="Expected answer (optional)", elem_id="math-expected",
                                  placeholder="e.g. 3x^2 + 4x - 5, \\frac{1}{2}, \\{1, 2\\}: checked with math-verify")
            with gr.Row():
                mode = gr.Radio(list(MODES), value="Step by step", label="Mode", elem_id="math-mode",
                                info="With Python, the model's code runs in a sandbox and it reads the output.")
                samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples",
                                    info="More than 1: a majority vote over that many solutions.",
                                    elem_id="math-samples")
            with gr.Row():
                send = gr.Button("Solve", variant="primary", elem_id="math-solve")
                stop_button = gr.Button("Stop", variant="stop", elem_id="math-stop")
        with gr.Column(scale=2):
            with gr.Group():
                model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label="Model",
                                    elem_id="math-model", filterable=True)
                switch = gr.Checkbox(value=True, label="Thinking", visible=first.hybrid, elem_id="math-thinking")
                said = gr.Markdown(mode_line(first), padding=True, visible=bool(mode_line(first)))
            with gr.Accordion("Sampling", open=False):
                with gr.Row():
                    max_new_tokens = gr.Number(value=DEFAULT_MAX_NEW_TOKENS, precision=0, minimum=1, step=256,
                                               label="Max new tokens", elem_id="math-max-new-tokens")
                    seed = gr.Number(value=-1, precision=0, label="Seed",
                                     info="-1 = random; sample i uses seed + i")
                presets = preset_sliders(first.sampling_for(first.thinks))
    answer = gr.Markdown(elem_id="math-answer", latex_delimiters=LATEX_DELIMITERS)
    with gr.Row(equal_height=False):
        solution = gr.Chatbot(label="Solution", show_label=False, latex_delimiters=LATEX_DELIMITERS, height="60vh",
                              elem_id="math-solution", buttons=["copy"], scale=3)
        with gr.Column(scale=2, min_width=260):
            votes = gr.BarPlot(x="answer", y="samples", title="Votes", visible=False, elem_id="math-votes",
                               sort="-y")
            pick = gr.Dropdown(label="Show solution", visible=False, elem_id="math-sample", choices=[])
    gr.Examples(examples=EXAMPLES, inputs=[problem, expected], label="Problems (with expected answers)",
                cache_examples=False)

    stops = Stops()
    solutions = gr.State([])
    touched = gr.State([])
    follow_fn = functools.partial(follow, catalog)
    for trigger in (model.input, switch.input):
        trigger(follow_fn, [model, switch, touched], [switch, said, *presets], api_visibility="private",
                queue=False)
    for name, component in zip(PRESET_FIELDS, presets, strict=True):
        component.input(functools.partial(touch, name), touched, touched, api_visibility="private", queue=False)
    inputs = [problem, expected, mode, samples, model, switch, max_new_tokens, seed, *presets]
    for trigger in (send.click, problem.submit):
        trigger(functools.partial(run_ui, engine, stops), inputs, [answer, solution, votes, pick, solutions],
                api_visibility="private", trigger_mode="once")
    stop_button.click(functools.partial(stop_all, stops), None, None, api_visibility="private", queue=False)
    pick.input(show_sample, [pick, solutions], solution, api_visibility="private", queue=False)

    api_result = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(functools.partial(math_api, engine, stops), inputs, api_result, api_name="math")


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as app:
        build(services.catalog, services.engine, services.registry)
    app.launch()
