"""The Thinking tab's handlers without a browser, on scripted models.

Both columns often use one model, so their requests race: the scripted model picks each reply
from the prompt it was given (thinking off puts an empty think block in the prompt). A reader in
another language gets its words: a made-up Swahili marks every template «sw».
"""

from __future__ import annotations

import inspect
import threading

import gradio as gr
import pytest
from gradio.helpers import special_args

from playground import i18n
from playground.catalog import Sampling, Task
from playground.engine import Engine
from tabs import picker
from tabs.i18n import Page, forget, remember, t
from tabs.reply import Stops, follow
from tabs.thinking import (
    SIDES,
    Column,
    build,
    compare,
    compare_thinking,
    example_samples,
    figures_html,
    page_words,
    run_ui,
    show_examples,
    stop_both,
    summary_text,
)
from tests.fakes import QWEN3_THINKING_PRESET, scripted_registry

EMPTY_THINK = "<think>\n\n</think>"
THINKS = "<think>\nstraw-berry: r, r, r. Three.\n</think>\n\nThere are $\\boxed{3}$ r's."


def thinking_on_or_off(on: str, off: str):
    """Replies by mode: `off` where the prompt holds the empty think block, else `on`."""
    return lambda prompt, sampling: off if prompt.rstrip().endswith(EMPTY_THINK) else on


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


def columns(left="scripted-qwen3", right="scripted-qwen3", left_on=True, right_on=False, max_new_tokens=200):
    sampling = Sampling(temperature=0, max_new_tokens=max_new_tokens)
    return {"left": Column(left, left_on, sampling), "right": Column(right, right_on, sampling)}


def last(engine, prompt="How many r in strawberry?", cols=None, budget=None, stops=None, system=""):
    states = list(compare(engine, stops or Stops(), "session", prompt, system, cols or columns(), budget))
    assert states[-1].finished
    return states[-1]


def test_both_columns_run_and_the_comparison_counts_what_thinking_cost(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(THINKS, "There are 2 r's.")
    state = last(engine)
    on, off = state.views["left"], state.views["right"]
    assert on.thinking == "straw-berry: r, r, r. Three." and on.answer == "There are $\\boxed{3}$ r's."
    assert off.thinking == "" and off.answer == "There are 2 r's."
    # The inspector: thinking off puts the empty block in the prompt; thinking on leaves the model to open it.
    assert off.prompt.text.rstrip().endswith("<|im_start|>assistant\n" + EMPTY_THINK)
    assert on.prompt.text.rstrip().endswith("<|im_start|>assistant")
    assert on.metrics.thinking_tokens > 0 and off.metrics.thinking_tokens == 0
    extra = on.metrics.tokens - off.metrics.tokens
    assert extra > 0
    text = summary_text(state, columns())
    assert f"cost **+{extra:,} tokens**" in text and "Thinking (left)" in text
    assert "`3` and `2`" in text and "they **differ**" in text
    shown = figures_html(on)
    assert f"<dt>Thinking tokens</dt><dd>{on.metrics.thinking_tokens:,}</dd>" in shown
    assert f"<dt>Answer tokens</dt><dd>{on.metrics.answer_tokens:,}</dd>" in shown
    assert figures_html(off).count("<dt>") == 5


def test_answers_agree_when_the_boxed_answer_and_the_last_number_match(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(THINKS, "Three: 3.")
    assert "they **agree**" in summary_text(last(engine), columns())


def test_the_system_prompt_reaches_both_columns(scripted) -> None:
    engine, loader = scripted
    state = last(engine, system="  Answer in French. ")
    for side in SIDES:
        assert "<|im_start|>system\nAnswer in French.<|im_end|>" in state.views[side].prompt.text


def test_a_budget_cuts_only_the_thinking_column_and_it_says_so(scripted) -> None:
    engine, loader = scripted
    long_thought = "<think>\n" + "Let me count again. " * 40 + "\n</think>\n\n3"
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(long_thought, "2")
    state = last(engine, budget=12)
    on, off = state.views["left"], state.views["right"]
    assert on.metrics.thinking_cut and not off.metrics.thinking_cut
    assert "Considering the limited time by the user" in on.thinking
    assert "The thinking budget cut the thinking short." in figures_html(on)
    assert "budget" not in figures_html(off)


def test_a_thinking_only_model_against_an_instruct_one(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3-thinking").enqueue(THINKS)
    loader.decoder("scripted-qwen2").enqueue("3")
    state = last(engine, cols=columns(left="scripted-qwen3-thinking", right="scripted-qwen2"))
    assert state.views["left"].thinking and state.views["right"].answer == "3"
    assert state.views["left"].error is None and state.views["right"].error is None


@pytest.mark.parametrize(("cols", "budget", "side", "message"), [
    (columns(left="scripted-qwen2"), None, "left", "scripted-qwen2 does not think"),
    (columns(right="scripted-qwen3-thinking"), None, "right", "always thinks"),
    (columns(max_new_tokens=100), 100, "left", "must be less than Max new tokens"),
])
def test_a_column_that_cannot_run_says_why_and_the_other_still_runs(scripted, cols, budget, side, message) -> None:
    engine, loader = scripted
    state = last(engine, cols=cols, budget=budget)
    other = "right" if side == "left" else "left"
    assert message in state.views[side].error
    assert state.views[other].error is None and state.views[other].answer == "Hello."
    assert summary_text(state, cols) == ""  # nothing to compare


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_an_empty_prompt_asks_for_one_and_runs_nothing(scripted, prompt) -> None:
    engine, loader = scripted
    state = last(engine, prompt=prompt)
    assert all(state.views[side].error == "Type a prompt first." for side in SIDES)
    assert loader.decoder("scripted-qwen3").prompts == []


def test_stop_stops_both_columns(scripted) -> None:
    engine, loader = scripted
    started = threading.Event()

    def slow(prompt: str, sampling: Sampling) -> str:
        started.set()
        return "word " * 4000

    loader.decoder("scripted-qwen3").respond = slow
    stops = Stops()
    stream = compare(engine, stops, "session", "Go on forever", "", columns(max_new_tokens=4000), None)
    next(stream)
    assert started.wait(10)
    stop_both(stops, gr.Request(session_hash="session"))  # the Stop button
    state = list(stream)[-1]
    assert state.finished
    assert "Neither column gave a final answer" in summary_text(state, columns())  # "word word ..." has none
    for side in SIDES:
        assert state.views[side].metrics.finish.value == "cancelled"
        assert state.views[side].metrics.tokens < 4000


def test_the_api_returns_both_columns_and_the_comparison_as_numbers(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(THINKS, "Three: 3.")
    out = list(compare_thinking(engine, Stops(), "How many r?", left_model="scripted-qwen3",
                                right_model="scripted-qwen3", left_temperature=0, right_temperature=0))[-1]
    assert out["done"] and out["comparison"]["answers_agree"] is True
    left, right = out["left"], out["right"]
    assert left["thinking_mode"] is True and left["thinking"] == "straw-berry: r, r, r. Three."
    assert right["thinking_mode"] is False and right["prompt"].rstrip().endswith(EMPTY_THINK)
    assert left["figures"]["thinking_tokens"] > 0 and right["figures"]["thinking_tokens"] == 0
    assert left["figures"]["final_answer"] == "3" and right["figures"]["final_answer"] == "3"
    assert out["comparison"]["extra_tokens"] == left["figures"]["thinking_tokens"] + (
        left["figures"]["answer_tokens"] - right["figures"]["answer_tokens"])


@pytest.mark.parametrize(("changes", "message"), [
    ({"left_model": "no-such-model"}, "no-such-model"),
    ({"thinking_budget": 2.5}, "whole number"),
])
def test_the_api_says_what_is_wrong_with_its_input(scripted, changes, message) -> None:
    engine, _ = scripted
    kwargs = {"left_model": "scripted-qwen3", "right_model": "scripted-qwen3", **changes}
    out = list(compare_thinking(engine, Stops(), "Hi", **kwargs))
    assert len(out) == 1 and message in out[0]["error"]


def test_the_api_reports_a_column_with_bad_sampling_in_that_column(scripted) -> None:
    engine, _ = scripted
    out = list(compare_thinking(engine, Stops(), "Hi", left_model="scripted-qwen3", right_model="scripted-qwen3",
                                left_temperature=9))[-1]
    assert "emperature" in out["left"]["error"] and out["right"]["answer"] == "Hello."


def test_picking_a_model_shows_the_switch_only_for_hybrid_models_and_follows_its_preset(scripted) -> None:
    engine, _ = scripted
    catalog = engine.registry.catalog
    switch, mode, *values = follow(catalog, "scripted-qwen3-thinking", False, [])
    assert switch.visible is False and switch.value is True and mode.value == "Always thinks." and mode.visible
    switch, mode, *_ = follow(catalog, "scripted-qwen2", True, [])
    assert switch.visible is False and switch.value is False and mode.value == "Never thinks."
    switch, mode, *_ = follow(catalog, "scripted-qwen3", True, [])
    assert switch.visible is True and mode.visible is False
    thinking = Sampling(**QWEN3_THINKING_PRESET)
    assert follow(catalog, "scripted-qwen3", True, [])[2:5] == (thinking.temperature, thinking.top_p, thinking.top_k)
    plain = Sampling()
    assert follow(catalog, "scripted-qwen3", False, ["top_p"])[2:5] == (plain.temperature, gr.skip(), plain.top_k)


def test_thinking_that_runs_to_the_end_still_gets_its_time(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3-thinking").enqueue("<think>\n" + "hmm " * 100)
    state = last(engine, cols=columns(left="scripted-qwen3-thinking", max_new_tokens=20))
    view = state.views["left"]
    assert view.answer == "" and view.metrics.thinking_tokens == 20
    assert view.thought_s is not None and "<dt>Thinking</dt><dd>–</dd>" not in figures_html(view)


def test_a_reader_in_another_language_gets_the_columns_figures_and_comparison_in_it(scripted, swahili) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(THINKS, "There are 2 r's.")
    sampling = [0, 0.8, 20, 0.0, 1.0]
    *columns_out, comparison = list(run_ui(engine, Stops(), "How many r?", "", -1, 0, 200, "scripted-qwen3", True,
                                           *sampling, "scripted-qwen3", False, *sampling, request=swahili))[-1]
    left_figures = columns_out[1]
    assert "<dt>«sw» Thinking tokens</dt>" in left_figures and "«sw» Speed" in left_figures
    assert comparison.startswith("«sw» Thinking (left) cost") and "«sw» Final answers: `3` and `2`" in comparison
    metrics = [m.content for m in columns_out[0] if "tok/s" in str(m.content)]
    assert metrics and "«sw»" in metrics[0]  # the shared reply's words follow the page too

    empty = list(run_ui(engine, Stops(), " ", "", -1, 0, 200, "scripted-qwen3", True, *sampling, "scripted-qwen2",
                        False, *sampling, request=swahili))[-1]
    assert all(m.content == "⚠️ «sw» Type a prompt first." for m in empty[0] + empty[3])
    wrong = list(run_ui(engine, Stops(), "Hi", "", -1, 0, 200, "scripted-qwen2", True, *sampling, "scripted-qwen3",
                        False, *sampling, request=swahili))[-1]
    assert wrong[0][0].content == ("⚠️ «sw» scripted-qwen2 does not think: pick a Qwen3 model (hybrid or "
                                   "Thinking-2507) for a thinking column, or turn thinking off.")
    # Without a page (an API caller with no Accept-Language), English.
    assert summary_text(last(engine), columns()).startswith("Thinking (left) cost")


def test_the_page_opens_with_its_pickers_and_mode_lines_in_its_language(scripted, swahili) -> None:
    engine, _ = scripted
    catalog, registry = engine.registry.catalog, engine.registry
    models = catalog.with_task(Task.CHAT)
    left, left_mode, right, right_mode = page_words(catalog, registry, models, "scripted-qwen3-thinking",
                                                    "scripted-qwen3", request=swahili)
    assert left.choices == right.choices == picker.choices(registry, models, "sw")
    assert all("«sw»" in label for label, _ in left.choices)
    assert left_mode.value == "«sw» Always thinks." and left_mode.visible
    assert right_mode.visible is False  # a hybrid model has its switch instead


def test_the_examples_are_shown_in_the_readers_language(swahili) -> None:
    with gr.Blocks():  # the examples as the tab builds them: made once, in English
        prompt = gr.Textbox(label=t("thinking.prompt"))
        examples = gr.Examples(example_samples(), prompt, label=t("thinking.examples"))
    shown = show_examples(examples, swahili)
    assert shown.raw_samples[0] == ["«sw» How many times does the letter r appear in the word strawberry?"]
    assert len(shown.raw_samples) == 5 and shown.headers == ["«sw» Prompt"]
    english = show_examples(examples)
    assert english.raw_samples[0] == ["How many times does the letter r appear in the word strawberry?"]


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
    assert {"run_ui", "stop_both", "compare_thinking", "page_words", "show_examples", "follow_column"} <= set(wanting)
    request = gr.Request(session_hash="reader")
    for name, fn in wanting.items():
        given, *_ = special_args(fn, [None] * (len(inspect.signature(fn).parameters) - 1), request)
        assert any(value is request for value in given), name


def test_each_column_copies_as_code_its_own_last_request(scripted) -> None:
    """Each column's Copy as code fold shows the script for that column's request, for this page only."""
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = thinking_on_or_off(THINKS, "There are 2 r's.")
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    page = gr.Request(session_hash="a-thinking-page")
    assert copied(demo, "left", page).startswith("# Nothing was sent here yet")
    sampling = [0, 0.8, 20, 0.0, 1.0]
    list(run_ui(engine, Stops(), "How many r in strawberry?", "", 64, 0, 200, "scripted-qwen3", True, *sampling,
                "scripted-qwen3", False, *sampling, request=page))
    left, right = copied(demo, "left", page), copied(demo, "right", page)
    for script in (left, right):
        compile(script, "snippet.py", "exec")
        assert script.startswith("# The code for your last request (scripted-qwen3 at ")
        assert "'content': 'How many r in strawberry?'" in script and "do_sample=False" in script
    assert "enable_thinking=True" in left and "budget = 64" in left
    assert "enable_thinking=False" in right and "budget" not in right
    assert copied(demo, "left", gr.Request(session_hash="another-page")).startswith("# Nothing")


def copied(demo: gr.Blocks, side: str, request: gr.Request) -> str:
    """What a column's Copy as code button shows the page of `request` (its click, as the tab wires it)."""
    (fn,) = [d.fn for d in demo.fns.values()
             if any(getattr(demo.blocks.get(target), "elem_id", None) == f"thinking-{side}-copy-code-button"
                    for target, _ in d.targets)]
    return fn(request=request)
