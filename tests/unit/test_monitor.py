"""The monitor: how each request ended, rolling figures, samples, and the hashed request log."""

from __future__ import annotations

import json

import pytest

from playground.catalog import Precision
from playground.engine import Engine
from playground.monitor import Monitor, Record, RequestLog, percentile
from playground.requests import Cancel, Finish, Metrics, Request
from tests.fakes import scripted_registry


def metrics(**changes) -> Metrics:
    values = dict(model="m", precision=Precision.BF16, backend="serial", thinking=None, window=4096,
                  prompt_tokens=12, tokens=40, thinking_tokens=0, thinking_cut=False, queued_s=0.0,
                  time_to_first_token_s=0.25, seconds=2.25, peak_memory=None, finish=Finish.STOP)
    return Metrics(**{**values, **changes})


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None), ([3.0], 95, 3.0), ([1, 2, 3, 4], 50, 2), ([*range(1, 101)], 95, 95), ([*range(1, 101)], 50, 50),
])
def test_percentiles_by_nearest_rank(values, q, expected) -> None:
    assert percentile(values, q) == expected


def test_figures_count_outcomes_and_rolling_percentiles() -> None:
    monitor = Monitor(memory=lambda: 123)
    request = Request("m", [{"role": "user", "content": "Hi"}])
    for ttft, outcome in [(0.1, "done"), (0.2, "done"), (0.3, "stopped"), (None, "error")]:
        monitor.started_request()
        monitor.finished(Record(request, outcome=outcome,
                                metrics=metrics(time_to_first_token_s=ttft) if ttft is not None else None))
    figures = monitor.figures()
    assert figures["requests"] == 4 and figures["outcomes"] == {"done": 2, "stopped": 1, "disconnected": 0,
                                                                 "error": 1}
    assert figures["ttft_p50_s"] == 0.2 and figures["ttft_p95_s"] == 0.3 and figures["error_rate"] == 0.25
    assert figures["tokens_per_s_p50"] == 17.8  # 40 tokens in 2.25 s and monitor.running == 0
    sample = monitor.sample()
    assert sample.ttft_s == 0.2 and sample.memory_used == 123 and sample.tokens_per_s > 0
    assert monitor.sample().tokens_per_s is None  # nothing ended since the last sample
    assert len(monitor.samples()) == 2


def test_the_request_log_hashes_prompts_and_sessions_unless_asked(tmp_path) -> None:
    request = Request("m", [{"role": "user", "content": "my secret question"}], client="session-1")
    hashed = RequestLog(tmp_path / "requests.jsonl")
    hashed.write(Record(request, outcome="done", metrics=metrics()))
    hashed.write(Record(request, outcome="disconnected"))
    hashed.close()
    text = (tmp_path / "requests.jsonl").read_text()
    assert "secret" not in text and "session-1" not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["id"] == request.id and first["prompt_hash"] == second["prompt_hash"]  # same prompt, same hash
    assert first["session"] == second["session"] and len(first["session"]) == 16
    assert {k: first[k] for k in ("model", "precision", "tokens_in", "tokens_out", "ttft_s", "outcome")} == {
        "model": "m", "precision": "bf16", "tokens_in": 12, "tokens_out": 40, "ttft_s": 0.25, "outcome": "done"}
    assert second["outcome"] == "disconnected" and second["tokens_out"] is None
    raw = RequestLog(tmp_path / "raw.jsonl", raw_prompts=True)
    raw.write(Record(request, outcome="done"))
    raw.close()
    assert json.loads((tmp_path / "raw.jsonl").read_text())["prompt"] == "my secret question"


@pytest.fixture
def engine(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    engine = Engine(registry)
    yield engine, loader
    registry.close()


def ended(engine: Engine) -> list[str]:
    return [r.outcome for _, r in engine.monitor._ended]


def test_the_engine_tells_the_monitor_how_each_request_ended(engine) -> None:
    engine, loader = engine
    ask = Request("scripted-qwen3", [{"role": "user", "content": "Hi"}], thinking=False)
    list(engine.stream(ask))
    assert ended(engine) == ["done"]
    cancel = Cancel()
    loader.decoder("scripted-qwen3").enqueue("word " * 200)
    for event in engine.stream(ask.with_sampling(max_new_tokens=300), cancel):
        if type(event).__name__ == "Answer":
            cancel.set()
    assert ended(engine)[-1] == "stopped"
    stream = engine.stream(ask.with_sampling(max_new_tokens=300))
    loader.decoder("scripted-qwen3").enqueue("word " * 200)
    next(event for event in stream if type(event).__name__ == "Answer")
    stream.close()  # the caller went away
    assert ended(engine)[-1] == "disconnected"
    with pytest.raises(Exception, match="no user message"):
        list(engine.stream(Request("scripted-qwen3", [])))
    assert ended(engine)[-1] == "error" and engine.monitor._ended[-1][1].error == "InvalidRequestError"
    assert engine.monitor.running == 0
