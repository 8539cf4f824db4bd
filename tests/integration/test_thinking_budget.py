"""Qwen's thinking budget on real tiny checkpoints, through the engine, on both decoders.

The thinking-only model's template opens <think> in the prompt, so every token it writes is
thinking until the budget cuts in: the cut is certain, and its place exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.catalog import Sampling, load_catalog
from playground.engine import Engine
from playground.errors import InvalidRequestError
from playground.loading import TransformersLoader
from playground.registry import Registry
from playground.requests import Answer, Metrics, Request, Thinking
from playground.settings import Settings, Switch
from playground.tasks.thinking import EARLY_STOP

SENTENCE = EARLY_STOP.replace("</think>", "").strip()
MAX_NEW = 120  # the tiny tokenizer spells the early-stop sentence in 64 tokens (Qwen's in about 25)


@pytest.fixture(scope="module", params=[Switch.OFF, Switch.ON], ids=["serial", "batched"])
def engine(request: pytest.FixtureRequest, thinking_catalog_path: Path):
    registry = Registry(load_catalog(thinking_catalog_path),
                        TransformersLoader(Settings(device="cpu", batching=request.param)))
    yield Engine(registry)
    registry.close()


def reply(engine: Engine, model: str, budget: int | None, max_new_tokens: int = MAX_NEW, thinking: bool = True):
    thinking_text, answer, metrics = "", "", None
    request = Request(model, [{"role": "user", "content": "How many r in strawberry?"}],
                      Sampling(temperature=0.6, top_p=0.95, top_k=20, seed=3, max_new_tokens=max_new_tokens),
                      thinking=thinking, thinking_budget=budget)
    for event in engine.stream(request):
        if isinstance(event, Thinking):
            thinking_text += event.text
        elif isinstance(event, Answer):
            answer += event.text
        elif isinstance(event, Metrics):
            metrics = event
    return thinking_text, answer, metrics


@pytest.mark.parametrize("budget", [0, 5, 17])
def test_the_budget_cuts_the_thinking_and_the_answer_follows(engine: Engine, budget: int) -> None:
    with engine.registry.acquire("thinking-only") as lease:
        tokenizer = lease.loaded.processor
        stop_ids = tokenizer.encode(EARLY_STOP, add_special_tokens=False)
        stop_tokens = stop_ids.index(tokenizer.convert_tokens_to_ids("</think>")) + 1  # "\n\n" after it is answer
    thinking, answer, metrics = reply(engine, "thinking-only", budget)
    assert metrics.thinking_cut
    assert thinking.endswith(SENTENCE)  # the early-stop sentence closes the thinking
    # The model wrote `budget` thinking tokens, then came the sentence (its last token is </think>).
    assert metrics.thinking_tokens == budget + stop_tokens
    assert answer.strip() and metrics.answer_tokens == MAX_NEW - metrics.thinking_tokens  # the answer went on


def test_without_a_budget_the_thinking_runs_on(engine: Engine) -> None:
    thinking, answer, metrics = reply(engine, "thinking-only", None)
    assert not metrics.thinking_cut and metrics.out_of_tokens_thinking and not answer
    assert SENTENCE not in thinking


def test_a_budget_on_a_hybrid_model_with_thinking_off_changes_nothing(engine: Engine) -> None:
    off = reply(engine, "hybrid", None, thinking=False)
    with_budget = reply(engine, "hybrid", 3, thinking=False)
    assert with_budget[:2] == off[:2] and not with_budget[2].thinking_cut


def test_a_budget_not_below_max_new_tokens_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match=r"thinking budget \(60\) must be less than Max new tokens \(60\)"):
        reply(engine, "thinking-only", 60, max_new_tokens=60)
