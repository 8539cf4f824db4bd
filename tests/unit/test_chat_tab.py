"""The Chat tab's handlers and the shared reply UI, without a browser, on a scripted model.

The scripted model writes given texts token by token through the real backend, engine and
reply code, so what depends on what a model says (a thinking block, its end) is exact here.
"""

from __future__ import annotations

from dataclasses import fields

import gradio as gr
import pytest

from playground.catalog import Precision, Sampling
from playground.engine import Engine
from playground.errors import PlaygroundError
from playground.i18n import say
from playground.requests import Finish, InputLimits, Metrics, Notice, NoticeCode
from tabs.chat import build, chat, follow_model, history_to_messages, send, sending
from tabs.i18n import Page, t, text_of, translations
from tabs.reply import (
    CONTROLS,
    ERROR_ID,
    METRICS_ID,
    NOTICE_ID,
    ReplyView,
    SamplingControls,
    Stops,
    metrics_text,
    notice_text,
    sampling_of,
    thinking_title,
)
from tests.fakes import scripted_registry


def metrics(**changes) -> Metrics:
    values = dict(model="m", precision=Precision.NF4, backend="serial", thinking=None, window=4096, prompt_tokens=3,
                  tokens=10, thinking_tokens=0, thinking_cut=False,
                  queued_s=0.0, time_to_first_token_s=0.5, seconds=2.0, peak_memory=2 * 1024**3,
                  finish=Finish.CANCELLED)
    return Metrics(**{**values, **changes})


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


def final(engine: Engine, message: str, history=(), **kwargs) -> list[dict]:
    """The reply's last update through the /chat handler, as an API client gets it."""
    updates = list(chat(engine, Stops(), message, list(history), kwargs.pop("model", "scripted-qwen3"), **kwargs))
    reply, conversation = updates[-1]
    if any((m.get("metadata") or {}).get("id") == ERROR_ID for m in reply):
        assert conversation == list(history)  # a refused or failed message is not kept
    elif message.strip():
        assert conversation[-len(reply) - 1]["content"] == message  # the session keeps the exchange
    return reply


def test_history_drops_thinking_metrics_and_errors_and_adds_the_system_prompt() -> None:
    history = [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "secret reasoning", "metadata": {"title": "Thinking", "status": "done"}},
        {"role": "assistant", "content": "First answer"},
        {"role": "assistant", "content": "<sub>metrics</sub>", "metadata": {"id": METRICS_ID}},
        {"role": "assistant", "content": "⚠️ oops", "metadata": {"id": ERROR_ID}},
        {"role": "user", "content": [{"type": "text", "text": "Second"}]},
    ]
    assert history_to_messages(history, "  Be brief. ") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second"},
    ]
    assert history_to_messages([], "") == []


def test_a_thinking_reply_shows_a_folded_block_the_answer_and_metrics(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue("<think>\nTwo and two.\n</think>\n\nThe answer is $4$.")
    thinking, answer, line = final(engine, "What is 2+2?", thinking=True, temperature=0)
    assert thinking["content"] == "Two and two." and thinking["metadata"]["title"] == thinking_title()
    assert thinking["metadata"]["status"] == "done" and thinking["metadata"]["duration"] >= 0
    assert (answer["content"], answer["metadata"]) == ("The answer is $4$.", {})
    assert line["metadata"] == {"id": METRICS_ID}
    assert line["content"].startswith("<sub>scripted-qwen3 · bf16 · ") and " tokens · " in line["content"]


def test_a_thinking_budget_cuts_the_thinking_with_qwens_sentence(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue("<think>\nOne two three four five six seven eight.\n</think>\n\nDone.")
    thinking, *_, line = final(engine, "Count", thinking=True, thinking_budget=3, max_new_tokens=200)
    assert thinking["content"].endswith("I have to give the solution based on the thinking directly now.")
    assert "thinking budget reached" in line["content"]
    (error,) = final(engine, "Count", thinking=True, thinking_budget=300, max_new_tokens=200)
    assert "thinking budget (300) must be less than Max new tokens (200)" in error["content"]


def test_the_model_gets_the_conversation_through_its_template(scripted, qwen3_tokenizer) -> None:
    engine, loader = scripted
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    final(engine, "And now?", history, system_prompt="Be brief.", thinking=False)
    prompt = qwen3_tokenizer.decode(loader.decoder("scripted-qwen3").prompts[-1].input_ids)
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>")
    assert prompt.endswith("<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_thinking_cut_off_by_max_new_tokens_says_so_and_offers_retries(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue("<think>\nI wonder about many things at length")
    messages = final(engine, "Think hard", thinking=True, max_new_tokens=6)
    kinds = [m["metadata"].get("title") or m["metadata"].get("id") for m in messages]
    assert kinds == [thinking_title(), METRICS_ID, NOTICE_ID]
    assert messages[0]["metadata"]["status"] == "done"
    assert "thinking on" in messages[1]["content"]
    assert "spent all 6 new tokens thinking" in messages[2]["content"]
    assert [o["label"] for o in messages[2]["options"]] == ["Retry with 24 new tokens", "Retry without thinking"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"top_p": 0}, "top_p must be above 0", id="zero_top_p"),
        pytest.param({"temperature": "hot"}, "temperature must be a number", id="text_temperature"),
        pytest.param({"max_new_tokens": 2.5}, "max_new_tokens must be a whole number", id="fractional_tokens"),
        pytest.param({"min_p": 3}, "min_p must be at least 0 and at most 1", id="min_p_above_one"),
    ],
)
def test_bad_sampling_values_get_a_message_not_an_exception(scripted, changes, message) -> None:
    engine, _ = scripted
    (reply,) = final(engine, "Hi", **changes)
    assert reply["metadata"] == {"id": ERROR_ID} and message in reply["content"]


def test_empty_message_gets_a_message(scripted) -> None:
    engine, _ = scripted
    assert final(engine, "   ")[0]["content"] == "⚠️ Type a message first."


def test_changing_model_or_mode_sets_that_presets_sliders(scripted) -> None:
    engine, _ = scripted
    catalog = engine.registry.catalog
    visible, budget, *values, tokens, info = follow_model(catalog, engine.registry, None, "scripted-qwen2", True, [],
                                                          1024)
    assert visible.visible is False and budget.visible is False  # it does not think
    preset = Sampling()
    assert values == [preset.temperature, preset.top_p, preset.top_k, preset.min_p, preset.repetition_penalty]
    assert tokens.maximum == 4096 and tokens.value == preset.max_new_tokens
    assert info.startswith("**scripted-qwen2**")


def test_reply_view_keeps_thinking_open_until_the_answer_starts() -> None:
    pending = ReplyView(thinking="hmm").messages()
    assert [m.metadata for m in pending] == [{"title": thinking_title(), "status": "pending"}]
    answering = ReplyView(thinking="hmm", answer="Yes", thought_s=3.14).messages()
    assert answering[0].metadata == {"title": thinking_title(), "status": "done", "duration": 3.1}
    failed = ReplyView(thinking="hmm", error="Out of memory.").messages()
    assert failed[0].metadata["status"] == "done" and failed[1].metadata == {"id": ERROR_ID}


def test_metrics_and_notices_become_sentences_only_at_the_edge() -> None:
    assert metrics_text(metrics()) == (
        "m · nf4 · 0.50 s to first token · 10 tokens · 5.0 tok/s · peak memory 2.0 GiB · stopped")
    waited = metrics_text(metrics(queued_s=1.0, finish=Finish.LENGTH, peak_memory=None, time_to_first_token_s=None))
    assert waited == "m · nf4 · 10 tokens · 10.0 tok/s · waited 1.0 s in the queue"
    assert notice_text(Notice(NoticeCode.DROPPED_TURNS, {"dropped": 4, "window": 160})) == (
        "Dropped the 4 oldest messages to fit the 160-token context window.")
    assert notice_text(Notice(NoticeCode.OOM_RETRY, {"model": "m", "precision": "int8"})) == (
        "Ran out of memory; reloaded m at int8 and retried.")


def test_sampling_controls_are_built_from_sampling() -> None:
    controls = SamplingControls.build(Sampling(temperature=0.6, top_p=0.95), render=False)
    assert [text_of(c.label) for c in controls.components] == [*(say("en", c.label) for c in CONTROLS.values()),
                                                               "Max new tokens", "Seed"]
    assert len(controls.components) == len(fields(Sampling))
    assert controls.components[0].value == 0.6 and controls.components[1].value == 0.95
    assert text_of(controls.components[5].label) == "Max new tokens" and controls.components[5].value == 1024
    assert sampling_of([0, 0.5, 5, 0.1, 1.1, 64, -1]) == Sampling(0.0, 0.5, 5, 0.1, 1.1, 64, None)
    assert sampling_of([0, 0.5, 5, 0.1, 1.1, 64, 42.0]).seed == 42


def test_a_model_that_loads_shows_its_progress_at_once_then_the_answer(scripted) -> None:
    import threading
    import time

    engine, loader = scripted
    loader.gate = threading.Event()
    loader.decoder("scripted-qwen3").enqueue("Ready.")
    started = time.monotonic()
    updates = (reply for reply, _ in chat(engine, Stops(), "Hi", [], "scripted-qwen3", thinking=False))
    first = next(updates)
    assert time.monotonic() - started < 1.0
    (block,) = first
    assert block["metadata"] == {"title": "Loading scripted-qwen3", "status": "pending", "id": "loading"}
    assert block["content"].endswith(" s")
    second = next(updates)  # half a second later: the loader has reported its download
    assert "downloading 25%" in second[0]["content"]
    loader.gate.set()
    last = list(updates)[-1]
    assert [m["content"] for m in last if not m["metadata"]] == ["Ready."]
    assert "loaded in" in last[-1]["content"]  # the load's time goes to the metrics line, not the thinking's


def test_a_model_that_fails_to_load_says_so_and_nothing_else(scripted) -> None:
    engine, loader = scripted
    loader.gate = __import__("threading").Event()
    loader.fail = PlaygroundError("Could not load scripted-qwen3: no network.")
    loader.gate.set()
    (error,) = final(engine, "Hi", thinking=False)
    assert error["content"] == "⚠️ Could not load scripted-qwen3: no network."


def test_stopping_while_the_model_loads_lets_the_load_finish_for_later(scripted) -> None:
    import threading

    engine, loader = scripted
    loader.gate = threading.Event()
    stops = Stops()
    updates = (reply for reply, _ in chat(engine, stops, "Hi", [], "scripted-qwen3", thinking=False))
    next(updates)
    stops.stop(("default", "chat"))
    (notice,) = list(updates)[-1]  # no error, no metrics: a note that the load goes on
    assert "Stopped while the model was loading" in notice["content"]
    loader.gate.set()
    loader.decoder("scripted-qwen3").enqueue("Later.")
    assert [m["content"] for m in final(engine, "Again", thinking=False) if not m["metadata"]] == ["Later."]
    assert all(s.in_use == 0 for s in engine.registry.snapshot())


def test_an_unexpected_failure_gives_a_reference_to_quote_and_logs_it(qwen3_tokenizer, caplog) -> None:
    registry, loader = scripted_registry(qwen3_tokenizer)
    decoder = loader.decoder("scripted-qwen3")

    def broken(*args, **kwargs):
        raise TypeError("a bug deep inside")
        yield  # a generator, as a decoder's tokens are

    decoder.tokens = broken
    reply, history = list(chat(Engine(registry), Stops(), "Hello", [], "scripted-qwen3", max_new_tokens=8))[-1]
    error = next(m["content"] for m in reply if (m.get("metadata") or {}).get("id") == "error")
    reference = error.split("(reference ")[1].split(")")[0]
    assert error.startswith("⚠️ Something went wrong on the server (reference ") and len(reference) == 8
    assert "a bug deep inside" not in error  # the details are for the log, not the page
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info[0] is TypeError
    registry.close()


def test_a_refused_message_never_enters_the_api_sessions_conversation(qwen3_tokenizer) -> None:
    registry, loader = scripted_registry(qwen3_tokenizer)
    engine = Engine(registry)
    reply, history = list(chat(engine, Stops(), "word " * 9000, [], "scripted-qwen3", max_new_tokens=8))[-1]
    assert "tokens with the template" in reply[-1]["content"] and history == []
    reply, history = list(chat(engine, Stops(), "Hi", history, "scripted-qwen3", max_new_tokens=8))[-1]
    assert [m["role"] for m in history if not m.get("metadata")] == ["user", "assistant"]
    assert "word word" not in qwen3_tokenizer.decode(loader.decoder("scripted-qwen3").prompts[-1].input_ids)
    registry.close()


@pytest.mark.parametrize(("message", "system_prompt", "expected"), [
    ("x" * 101, "", "The message is 101 characters long; this app takes at most 100. Shorten it"),
    ("Hi", "s" * 51, "The system prompt is 51 characters long; this app takes at most 50. Shorten it"),
])
def test_text_past_the_limits_is_refused_naming_the_field_before_any_work(qwen3_tokenizer, message, system_prompt,
                                                                          expected) -> None:
    registry, loader = scripted_registry(qwen3_tokenizer)
    engine = Engine(registry, InputLimits(message_chars=100, system_chars=50))
    reply = final(engine, message, system_prompt=system_prompt, max_new_tokens=8)
    assert reply[-1]["content"] == f"⚠️ {expected} and send it again."
    # The browser's Send: the message never joins the conversation and stays in its box (not cleared).
    textbox, shown, _ = list(send(engine, Stops(), message, [], "scripted-qwen3", system_prompt, False,
                                  0.7, 0.8, 20, 0.0, 1.0, 8, 1, -1))[-1]
    assert [m.content for m in shown] == [f"⚠️ {expected} and send it again."] and textbox == gr.skip()
    assert loader.decoder("scripted-qwen3").prompts == []  # nothing was tokenized, let alone generated
    registry.close()


def test_what_no_longer_fits_the_window_leaves_the_api_sessions_conversation(qwen3_tokenizer) -> None:
    registry, loader = scripted_registry(qwen3_tokenizer)
    engine, history = Engine(registry), []
    for turn in range(8):  # about 700 tokens a turn, in a 4,096-token window
        reply, history = list(chat(engine, Stops(), f"turn {turn}: " + "word " * 700, history, "scripted-qwen3",
                                   max_new_tokens=8))[-1]
        assert not any((m.get("metadata") or {}).get("id") == ERROR_ID for m in reply)
    kept = [m["content"].split(":")[0] for m in history if m["role"] == "user"]
    assert kept[-1] == "turn 7" and kept[0] != "turn 0" and len(kept) < 8
    prompt = qwen3_tokenizer.decode(loader.decoder("scripted-qwen3").prompts[-1].input_ids)
    assert f"{kept[0]}:" in prompt and f"turn {int(kept[0][5:]) - 1}:" not in prompt  # kept = what the model saw
    registry.close()


def test_the_stop_label_shown_while_a_reply_streams_is_among_the_pages_words(scripted) -> None:
    """The browser says a label only from the words it was given at launch: those the tabs used as they were built."""
    engine, _ = scripted
    t.used.discard("chat.stop")  # as in a fresh app, where no reply has streamed yet
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    table = translations().translations  # what the app gives launch(), before any reply has streamed
    label = sending().stop_btn
    for code, words in table.items():
        assert words.get(label.key) == say(code, "chat.stop"), code
