"""The batched decoder on tiny float32 checkpoints: concurrent requests give exactly what each gives alone.

In float32 the batch does not change any request's logits, so greedy and seeded replies must be
identical token for token, whatever else is decoding; in 16-bit they may diverge after some
tokens (documented in `playground.backends.batched`), so these tests use the fp32 catalogue.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from playground.backends.batched import BatchedDecoder
from playground.catalog import Sampling, load_catalog
from playground.engine import Engine
from playground.loading import TransformersLoader
from playground.registry import Registry
from playground.requests import Answer, Cancel, Finish, Metrics, Request
from playground.settings import Settings, Switch

PROMPTS = [f"Prompt number {i}: " + "tell me about the weather " * (i * 3) for i in range(8)]


def engine_for(catalog: Path, batching: Switch, **settings) -> Engine:
    return Engine(Registry(load_catalog(catalog), TransformersLoader(Settings(device="cpu", batching=batching,
                                                                              **settings))))


@pytest.fixture(scope="module")
def batched(fp32_catalog_path: Path):
    engine = engine_for(fp32_catalog_path, Switch.ON)
    yield engine
    engine.registry.close()


@pytest.fixture(scope="module")
def serial(fp32_catalog_path: Path):
    engine = engine_for(fp32_catalog_path, Switch.OFF)
    yield engine
    engine.registry.close()


def request(i: int, model: str = "tiny-qwen3", **sampling) -> Request:
    """Distinct prompts; odd ones greedy, even ones sampled with a seed, sampling settings varying per request."""
    base = dict(temperature=0 if i % 2 else 0.6 + 0.1 * i, top_k=0 if i % 4 == 0 else 10 + i, top_p=0.9,
                min_p=0.05 * (i % 3), repetition_penalty=1.0 + 0.1 * (i % 3), seed=1000 + i, max_new_tokens=24)
    return Request(model, [{"role": "user", "content": PROMPTS[i]}], Sampling(**{**base, **sampling}), thinking=False)


def reply(engine: Engine, req: Request, cancel: Cancel | None = None, stop_after: int | None = None):
    text, metrics, chunks = "", None, 0
    for event in engine.stream(req, cancel):
        if isinstance(event, Answer):
            text += event.text
            chunks += 1
            if stop_after is not None and chunks == stop_after:
                cancel.set()
        elif isinstance(event, Metrics):
            metrics = event
    return text, metrics


def concurrently(engine: Engine, requests: list[Request], options: dict | None = None) -> list[tuple[str, Metrics]]:
    """Each request in its own thread, all at once; `options[i]` are extra arguments of `reply` for request i."""
    results: list = [None] * len(requests)

    def run(i: int) -> None:
        results[i] = reply(engine, requests[i], **(options or {}).get(i, {}))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.parametrize("model", ["tiny-qwen3", "tiny-qwen2", "tiny-qwen3-moe"])
def test_eight_concurrent_requests_equal_each_alone_and_the_serial_decoder(batched: Engine, serial: Engine,
                                                                           model: str) -> None:
    requests = [request(i, model) for i in range(8)]
    alone = [reply(batched, r) for r in requests]
    together = concurrently(batched, requests)
    assert [t for t, _ in together] == [t for t, _ in alone]
    assert [reply(serial, r)[0] for r in requests] == [t for t, _ in alone]
    assert [(m.tokens, m.finish) for _, m in together] == [(m.tokens, m.finish) for _, m in alone]
    assert all(m.backend == "batched" for _, m in together)
    assert sum(m.finish is Finish.LENGTH for _, m in together) >= 6  # sampling may pick end-of-turn now and then
    decoder = batched.registry.acquire(model)
    with decoder:
        assert decoder.loaded.backend.decoder.largest_batch >= 4  # they did share steps


def test_stopping_one_request_leaves_the_others_unchanged(batched: Engine) -> None:
    requests = [request(i, max_new_tokens=60) for i in range(4)]
    alone = [reply(batched, r)[0] for r in requests]
    cancel = Cancel()
    together = concurrently(batched, requests, {2: {"cancel": cancel, "stop_after": 3}})
    assert [together[i][0] for i in (0, 1, 3)] == [alone[i] for i in (0, 1, 3)]
    stopped = together[2][1]
    assert stopped.stopped and stopped.tokens < 60
    assert alone[2].startswith(together[2][0])


def test_a_request_joining_mid_flight_does_not_change_the_running_one(batched: Engine) -> None:
    long, short = request(1, max_new_tokens=80), request(6, max_new_tokens=10)
    alone = reply(batched, long)[0], reply(batched, short)[0]
    results: dict[str, str] = {}

    def run_long() -> None:
        text = ""
        for event in batched.stream(long):
            if isinstance(event, Answer):
                text += event.text
                if len(text) > 20 and "short" not in results:
                    results["short"] = ""  # start the short one once the long one is well under way
                    joiner.start()
        results["long"] = text

    joiner = threading.Thread(target=lambda: results.__setitem__("short", reply(batched, short)[0]))
    runner = threading.Thread(target=run_long)
    runner.start()
    runner.join(120)
    joiner.join(120)
    assert (results["long"], results["short"]) == alone


def test_closing_a_stream_removes_the_request_from_the_batch(batched: Engine) -> None:
    others = [request(i, max_new_tokens=40) for i in (1, 3)]
    alone = [reply(batched, r)[0] for r in others]
    results: list = [None, None]

    def run(i: int) -> None:
        results[i] = reply(batched, others[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    stream = batched.stream(request(5, max_new_tokens=3000))
    next(e for e in stream if isinstance(e, Answer))
    for t in threads:
        t.start()
    time.sleep(0.2)
    stream.close()  # a client that went away
    for t in threads:
        t.join(120)
    assert results == alone
    assert all(s.in_use == 0 for s in batched.registry.snapshot())


def test_max_concurrent_caps_the_batch(fp32_catalog_path: Path) -> None:
    engine = engine_for(fp32_catalog_path, Switch.ON, max_concurrent=2)
    requests = [request(i, max_new_tokens=12) for i in range(5)]
    alone = [reply(engine, r)[0] for r in requests]
    assert [t for t, _ in concurrently(engine, requests)] == alone
    with engine.registry.acquire("tiny-qwen3") as lease:
        assert lease.loaded.backend.decoder.largest_batch == 2
    engine.registry.close()


def test_a_request_waits_while_the_batch_would_outgrow_its_kv_budget(batched: Engine) -> None:
    with batched.registry.acquire("tiny-qwen3") as lease:
        loaded = lease.loaded
    backend = loaded.backend
    small = BatchedDecoder(loaded.model, "cpu", max_batch=8, kv_tokens=120)
    original, backend.decoder = backend.decoder, small
    try:
        requests = [request(i, max_new_tokens=30) for i in (0, 1, 2)]  # prompts of ~20-60 tokens
        results = concurrently(batched, requests)
    finally:
        backend.decoder = original
        small.close()
    assert small.largest_batch == 1  # two of them would need more than 120 tokens of cache
    assert [t for t, _ in results] == [reply(batched, r)[0] for r in requests]
    assert max(m.queued_s for _, m in results) > 0


def test_bf16_and_nf4_batch_too(tiny_catalog_path: Path) -> None:
    """In 16-bit the batch may change replies after some tokens, so only the shape of the replies is checked."""
    engine = engine_for(tiny_catalog_path, Switch.ON)
    from playground.memory import Precision

    for precision in (Precision.BF16, Precision.NF4):
        requests = [Request("tiny-qwen3", r.messages, r.sampling, precision=precision) for r in
                    (request(i, max_new_tokens=16) for i in range(4))]
        results = concurrently(engine, requests)
        assert all(m.backend == "batched" and m.tokens == 16 and m.precision is precision for _, m in results)
    engine.registry.close()


def test_eight_bit_models_decode_serially_even_with_batching_on(batched: Engine) -> None:
    """LLM.int8 splits outliers by what the whole batch holds, so a batch would change replies."""
    from playground.memory import Precision

    _, metrics = reply(batched, Request("tiny-qwen3", request(1).messages, request(1).sampling,
                                        precision=Precision.INT8))
    assert metrics.backend == "serial" and metrics.tokens == 24
