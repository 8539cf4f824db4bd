"""The Math tab's handlers on scripted models: modes, the boxed answer and its check, the vote, bad input.

The scripted model picks its reply from its prompt and sampling (its seed tells samples apart), so
what depends on what a model writes (a box, a Python block) is exact here. A reader in another
language gets its words: a made-up Swahili marks every template «sw».
"""

from __future__ import annotations

import inspect

import gradio as gr
import pytest
from gradio.helpers import special_args

from playground import i18n
from playground.catalog import Sampling, Task
from playground.engine import Engine
from playground.errors import InvalidRequestError
from playground.i18n import Said
from playground.tasks import checking
from playground.tasks.checking import Check
from playground.tasks.tir import ToolCall
from tabs import picker
from tabs.i18n import Page, forget, remember, t
from tabs.math_tab import (
    COT,
    TIR,
    Problem,
    answer_markdown,
    build,
    example_samples,
    math_api,
    outcome,
    page_words,
    problem_of,
    run_ui,
    show_examples,
    solve,
)
from tabs.reply import ReplyView, Stops
from tests.fakes import scripted_registry

DERIVATIVE = "Find the derivative of f(x) = x³ + 2x² − 5x + 3."


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


@pytest.fixture
def swahili(monkeypatch):
    """A page whose reader picked Swahili, whose words (made up here) are English marked «sw»: its request."""
    english = i18n.messages
    marked = {key: f"«sw» {words}" for key, words in english("en").items()}
    monkeypatch.setattr(i18n, "messages", lambda code: marked if code == "sw" else english(code))
    request = gr.Request(session_hash="reader-sw")
    assert remember("sw", request) == "sw"  # what the page's first event does
    yield request
    forget(request)


def problem(mode: str = "Step by step", samples: int = 1, expected: str | None = None, **sampling) -> Problem:
    return Problem(DERIVATIVE, mode, samples, "scripted-qwen2", False,
                   Sampling(**{"temperature": 0.7, "max_new_tokens": 300, "seed": 10, **sampling}), expected)


def last(engine: Engine, asked: Problem):
    replies = list(solve(engine, Stops(), "session", asked))[-1]
    assert replies.finished
    return replies


def test_step_by_step_sends_qwens_prompt_and_checks_the_boxed_answer(scripted) -> None:
    engine, loader = scripted
    decoder = loader.decoder("scripted-qwen2")
    decoder.enqueue("Differentiate term by term: $$f'(x) = \\boxed{3x^2 + 4x - 5}$$")
    replies = last(engine, problem(expected="4x + 3x^2 - 5"))
    prompt = loader.tokenizer.decode(decoder.prompts[0].input_ids, skip_special_tokens=False)
    assert f"<|im_start|>system\n{COT}<|im_end|>" in prompt and DERIVATIVE in prompt
    result = outcome(replies, "4x + 3x^2 - 5")
    assert result.answers == ["3x^2 + 4x - 5"] and result.winner == "3x^2 + 4x - 5" and result.correct is True
    shown = answer_markdown(replies, result, "4x + 3x^2 - 5")
    assert shown.startswith("$$\\boxed{3x^2 + 4x - 5}$$") and "✓ Correct" in shown


def test_a_wrong_answer_gets_a_cross(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").enqueue("So $\\boxed{3x^2 + 4x}$.")
    replies = last(engine, problem(expected="3x^2 + 4x - 5"))
    assert "✗ Not the expected answer" in answer_markdown(replies, outcome(replies, "3x^2 + 4x - 5"), "3x^2 + 4x - 5")


def test_no_box_says_so(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").enqueue("I think it is 3x^2.")
    replies = last(engine, problem())
    result = outcome(replies, None)
    assert result.winner is None and answer_markdown(replies, result, None).startswith("No `\\boxed{}` answer")


def test_samples_vote_by_equivalent_answers_each_with_its_own_seed(scripted) -> None:
    engine, loader = scripted
    seeds = []

    def by_seed(prompt: str, sampling: Sampling) -> str:
        seeds.append(sampling.seed)
        return {0: "\\boxed{0.5}", 1: "\\boxed{\\frac{1}{2}}", 2: "\\boxed{2}", 3: "no idea"}[sampling.seed % 4]

    loader.decoder("scripted-qwen2").respond = by_seed
    replies = last(engine, problem(samples=8, expected="1/2", seed=100))
    assert sorted(seeds) == list(range(100, 108))  # sample i: seed + i
    result = outcome(replies, "1/2")
    assert result.votes == [("0.5", 4), ("2", 2), (None, 2)]  # 0.5 and \frac{1}{2} are one answer; None: no box
    assert result.winner == "0.5" and result.correct is True
    assert result.winners == [s % 4 in (0, 1) for s in range(100, 108)]
    assert "4 of 8 samples give this answer." in answer_markdown(replies, result, "1/2")
    out = list(math_api(engine, Stops(), DERIVATIVE, "1/2", samples=8, model="scripted-qwen2", seed=100))[-1]
    assert out["vote"] == [{"answer": "0.5", "samples": 4}, {"answer": "2", "samples": 2},
                           {"answer": "(no answer)", "samples": 2}]  # the API's words stay as they were


def test_the_ui_shows_the_winning_sample_and_the_chart(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").respond = lambda prompt, sampling: (
        "\\boxed{7}" if sampling.seed % 3 else "\\boxed{8}")
    updates = list(run_ui(engine, Stops(), "What is 3 + 4?", "7", "Step by step", 3, "scripted-qwen2", False,
                          200, 3, 0.7, 0.8, 20, 0.0, 1.0))
    answer, shown, chart, picker, solutions = updates[-1]
    assert answer.startswith("$$\\boxed{7}$$") and "2 of 3 samples" in answer and "✓" in answer
    assert picker.value == "2"  # seeds 3, 4, 5: sample 1 (seed 3) says 8, sample 2 is the first to say 7
    assert shown == solutions[1] and len(solutions) == 3
    assert chart.visible and chart.value["data"] == [["7", 2], ["8", 1]]


@pytest.mark.parametrize(("changes", "message"), [
    ({"text": "  "}, "Type a problem first."),
    ({"samples": 0}, "Samples must be a whole number from 1 to 16"),
    ({"samples": 17}, "Samples must be a whole number from 1 to 16"),
    ({"samples": 2.5}, "Samples must be a whole number from 1 to 16"),
    ({"samples": 4, "sampling": Sampling(temperature=0)}, "A majority vote needs different samples"),
    ({"expected": "x^2+"}, "Could not read the expected answer"),
    ({"mode": "Guess"}, "Unknown mode 'Guess'"),
    ({"text": "1" * 20_001}, "at most 20,000"),
])
def test_bad_input_gets_a_clear_message(scripted, changes, message) -> None:
    engine, _ = scripted
    asked = {"text": DERIVATIVE, "mode": "Step by step", "samples": 1, "model": "scripted-qwen2", "thinking": False,
             "sampling": Sampling(), "expected": None, **changes}
    with pytest.raises(InvalidRequestError, match=message.replace("(", r"\(")):
        problem_of(engine.registry.catalog, **asked)
    ui = list(run_ui(engine, Stops(), asked["text"], asked["expected"] or "", asked["mode"], asked["samples"],
                     "scripted-qwen2", False, 200, -1, asked["sampling"].temperature, 0.8, 20, 0.0, 1.0))
    assert len(ui) == 1 and message in ui[0][1][0].content


def test_tir_runs_the_models_python_in_the_sandbox_and_shows_it_folded(scripted) -> None:
    engine, loader = scripted
    decoder = loader.decoder("scripted-qwen2")
    decoder.respond = lambda prompt, sampling: (
        "So the answer is $\\boxed{1024}$." if "```output\n1024\n```" in prompt
        else "Let me compute it.\n```python\nx = 2 ** 10\nprint(x)\n```")
    out = list(math_api(engine, Stops(), "What is 2 to the 10th?", "1024", "With Python (TIR)", 1,
                        "scripted-qwen2", False, 300, 1))[-1]
    prompt = loader.tokenizer.decode(decoder.prompts[0].input_ids, skip_special_tokens=False)
    assert f"<|im_start|>system\n{TIR}<|im_end|>" in prompt
    solution = out["solutions"][0]
    assert solution["python"][0]["code"] == "x = 2 ** 10\nprint(x)" and solution["python"][0]["output"] == "1024\n"
    assert solution["python"][0]["ok"] is True
    assert out["answer"] == "1024" and out["correct"] is True and out["done"]
    assert solution["answer"].endswith("So the answer is $\\boxed{1024}$.")
    updates = list(run_ui(engine, Stops(), "What is 2 to the 10th?", "", "With Python (TIR)", 1, "scripted-qwen2",
                          False, 300, 1, 0.7, 0.8, 20, 0.0, 1.0))
    messages = updates[-1][1]
    folded = [m for m in messages if (m.metadata or {}).get("title", "").startswith("Python")]
    assert len(folded) == 1 and "x = 2 ** 10" in folded[0].content and "1024" in folded[0].content
    assert not any("```python" in m.content for m in messages if not (m.metadata or {}).get("title"))


def test_a_reader_in_another_language_gets_the_answer_its_check_and_the_vote_in_it(scripted, swahili) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").respond = lambda prompt, sampling: (
        "\\boxed{7}" if sampling.seed % 3 else "no idea")
    answer, _, chart, samples, _ = list(run_ui(engine, Stops(), "What is 3 + 4?", "7", "Step by step", 3,
                                               "scripted-qwen2", False, 200, 3, 0.7, 0.8, 20, 0.0, 1.0,
                                               request=swahili))[-1]
    assert "«sw» 2 of 3 samples give this answer." in answer and "«sw» ✓ Correct" in answer
    assert samples.choices == [("«sw» Sample 1 · «sw» (no answer)", "1"), ("«sw» Sample 2 · 7", "2"),
                               ("«sw» Sample 3 · 7", "3")]
    assert chart.value["data"] == [["7", 2], ["«sw» (no answer)", 1]]
    assert (chart.title, chart.x_title, chart.y_title) == ("«sw» Votes", "«sw» answer", "«sw» samples")
    refused = list(run_ui(engine, Stops(), "  ", "", "Step by step", 1, "scripted-qwen2", False, 200, 3, 0.7, 0.8,
                          20, 0.0, 1.0, request=swahili))
    assert refused[0][1][0].content == "⚠️ «sw» Type a problem first."
    # An API caller with no page and no Accept-Language: English.
    english = list(run_ui(engine, Stops(), "  ", "", "Step by step", 1, "scripted-qwen2", False, 200, 3, 0.7, 0.8,
                          20, 0.0, 1.0))
    assert english[0][1][0].content == "⚠️ Type a problem first."


def test_the_page_opens_with_its_picker_and_modes_in_its_language(scripted, swahili) -> None:
    engine, _ = scripted
    catalog, registry = engine.registry.catalog, engine.registry
    models = catalog.with_task(Task.MATH)
    model, mode_line, modes = page_words(catalog, registry, models, "scripted-qwen2", request=swahili)
    assert model.choices == picker.choices(registry, models, "sw") and all("«sw»" in c for c, _ in model.choices)
    assert mode_line.value == "«sw» Never thinks." and mode_line.visible
    # The reader sees the modes in their language; the values stay the API's names.
    assert modes.choices == [("«sw» Step by step", "Step by step"), ("«sw» With Python (TIR)", "With Python (TIR)")]


def test_the_examples_are_shown_in_the_readers_language_with_their_expected_answers(swahili) -> None:
    with gr.Blocks():  # the examples as the tab builds them: made once, in English
        problem, expected = gr.Textbox(label=t("math.problem")), gr.Textbox(label=t("math.expected"))
        examples = gr.Examples(example_samples(), [problem, expected], label=t("math.examples"))
    shown = show_examples(examples, swahili)
    assert shown.raw_samples[0] == ["«sw» Find the derivative of f(x) = x³ + 2x² − 5x + 3.", "3x^2 + 4x - 5"]
    assert len(shown.raw_samples) == 7 and shown.headers == ["«sw» Problem", "«sw» Expected answer (optional)"]
    assert show_examples(examples).raw_samples[3] == ["A train travels 120 km in 1.5 hours. What is its average "
                                                      "speed in km/h?", "80"]


def test_every_handler_of_the_tab_is_handed_its_request(scripted) -> None:
    """Gradio hands a handler its request only through a positional, type-hinted parameter (not through a
    partial): without it, every visitor would be one session, reading English."""
    engine, _ = scripted
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    wanting = {}
    for dependency in demo.fns.values():
        fn = dependency.fn
        if fn is not None and "request" in inspect.signature(fn).parameters:
            wanting[getattr(fn, "__name__", None) or fn.func.__name__] = fn
    assert {"run_ui", "stop_all", "math_api", "page_words", "show_examples", "follow_model"} <= set(wanting)
    request = gr.Request(session_hash="reader")
    for name, fn in wanting.items():
        given, *_ = special_args(fn, [None] * (len(inspect.signature(fn).parameters) - 1), request)
        assert any(value is request for value in given), name


def test_why_an_answer_could_not_be_checked_and_an_unreadable_expected_answer_are_said_in_the_readers_language(
        scripted, swahili, monkeypatch) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").respond = lambda prompt, sampling: "So the answer is $\\boxed{7}$."
    # math-verify's worker took too long (a pathological expression): the check cannot decide, and says why.
    monkeypatch.setattr(checking, "check", lambda expected, answer: Check(None, Said("check.took_too_long",
                                                                                      {"seconds": 10.0})))
    answer = list(run_ui(engine, Stops(), "What is 3 + 4?", "7", "Step by step", 1, "scripted-qwen2", False, 200, 1,
                         0.7, 0.8, 20, 0.0, 1.0, request=swahili))[-1][0]
    assert answer.endswith("«sw» ? Could not check it against $7$ («sw» the check took over 10 s).")
    english = list(run_ui(engine, Stops(), "What is 3 + 4?", "7", "Step by step", 1, "scripted-qwen2", False, 200, 1,
                          0.7, 0.8, 20, 0.0, 1.0))[-1][0]
    assert english.endswith("? Could not check it against $7$ (the check took over 10 s).")
    refused = list(run_ui(engine, Stops(), "What is 3 + 4?", "@@@", "Step by step", 1, "scripted-qwen2", False, 200,
                          1, 0.7, 0.8, 20, 0.0, 1.0, request=swahili))
    assert refused[0][1][0].content.startswith("⚠️ «sw» Could not read the expected answer '@@@' as math")
    with pytest.raises(InvalidRequestError) as refusal:
        checking.read_expected("@@@")
    assert refusal.value.said.key == "check.unreadable"


def test_why_the_sandbox_stopped_the_models_python_is_said_in_the_readers_language(scripted, swahili) -> None:
    """The folded block says the sandbox's reason in the page's language; the model reads it in English."""
    engine, loader = scripted
    decoder = loader.decoder("scripted-qwen2")
    decoder.respond = lambda prompt, sampling: (
        "Too big, so I reason instead: $\\boxed{7}$." if "```output" in prompt
        else "Let me try.\n```python\nx = bytearray(8 * 2**30)\n```")
    english = "MemoryError: the code tried to use more than 1.0 GiB of memory"
    messages = list(run_ui(engine, Stops(), "What is 3 + 4?", "", "With Python (TIR)", 1, "scripted-qwen2", False,
                           300, 1, 0.7, 0.8, 20, 0.0, 1.0, request=swahili))[-1][1]
    (block,) = [m for m in messages if "bytearray" in m.content]
    assert "MemoryError: «sw» the code tried to use more than 1.0 GiB of memory" in block.content
    assert english not in block.content
    assert f"```output\n{english}\n```" in loader.tokenizer.decode(decoder.prompts[-1].input_ids)
    # A block run while the model thinks: its output follows it in the thinking, the reason said the same way.
    view = ReplyView(thinking="Let me try.\n```python\nx = bytearray(8 * 2**30)\n```", language="sw")
    view.add_call(ToolCall("x = bytearray(8 * 2**30)", english, False, 0.0, True, 1,
                           Said("sandbox.memory", {"size": "1.0 GiB"})))
    assert view.thinking.endswith("```output\nMemoryError: «sw» the code tried to use more than 1.0 GiB of memory"
                                  "\n```\n")


def test_copy_as_code_shows_the_first_samples_request_and_says_a_python_loop_is_its_first_step(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen2").respond = lambda prompt, sampling: (
        "So the answer is $\\boxed{1024}$." if "```output" in prompt
        else "Let me compute it.\n```python\nprint(2 ** 10)\n```")
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    page = gr.Request(session_hash="a-math-page")
    assert copied(demo, page).startswith("# Nothing was sent here yet")
    list(run_ui(engine, Stops(), "What is 2 to the 10th?", "", "With Python (TIR)", 2, "scripted-qwen2", False, 300,
                7, 0.7, 0.8, 20, 0.0, 1.0, request=page))
    script = copied(demo, page)
    compile(script, "snippet.py", "exec")
    assert script.startswith("# The code for your last request (scripted-qwen2 at ")
    assert "'content': 'What is 2 to the 10th?'" in script and "integrate natural language reasoning" in script
    assert "torch.manual_seed(7)" in script  # sample 1's seed (sample 2 ran with 8)
    assert "This script makes the first step" in script  # the app ran the model's Python and went on
    assert copied(demo, gr.Request(session_hash="another-page")).startswith("# Nothing")


def copied(demo: gr.Blocks, request: gr.Request) -> str:
    """What the Copy as code button shows the page of `request` (its click, as the tab wires it)."""
    (fn,) = [d.fn for d in demo.fns.values()
             if any(getattr(demo.blocks.get(target), "elem_id", None) == "math-1-copy-code-button"
                    for target, _ in d.targets)]
    return fn(request=request)
