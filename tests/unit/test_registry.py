"""Registry policy with a fake loader: lazy loads, sharing, eviction, the precision ladder."""

from __future__ import annotations

import threading

import pytest

from playground.catalog import parse_catalog
from playground.errors import DoesNotFitError, ModelLoadError, OutOfMemory, PlaygroundError
from playground.memory import Precision, context_tokens, estimate, kv_cache_bytes
from playground.registry import Registry
from tests.fakes import FakeLoader

ARCH = {"layers": 4, "attention_heads": 4, "kv_heads": 2, "head_dim": 8, "hidden_size": 32,
        "intermediate_size": 64, "vocab_size": 100, "tie_word_embeddings": True}
CATALOG = parse_catalog({"models": {
    key: {"source": f"Qwen/{key}", "tasks": ["chat"], "params_billion": size, "context_length": 1024,
          "architecture": ARCH}
    for key, size in {"a": 1.0, "b": 1.0, "c": 1.0, "big": 3.0}.items()
}})
GB = 10**9


def need(key: str, precision: Precision) -> int:
    return estimate(CATALOG.get(key), precision).total


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def registry(total: int, clock=None, batch: int = 1, **kwargs) -> tuple[Registry, FakeLoader]:
    loader = FakeLoader(total, batch)
    return Registry(CATALOG, loader, clock=clock or Clock(), **kwargs), loader


def test_nothing_loads_until_a_request_needs_it() -> None:
    reg, loader = registry(100 * GB)
    assert loader.calls == [] and reg.snapshot() == []
    with reg.acquire("a") as lease:
        assert lease.precision is Precision.BF16
        assert lease.loaded.model == ("a", Precision.BF16)
    with reg.acquire("a"):
        pass
    assert loader.calls == [("a", Precision.BF16)]


def test_concurrent_requests_share_one_load() -> None:
    reg, loader = registry(100 * GB)
    loader.gate = threading.Event()
    leases, errors = [], []

    def request():
        try:
            leases.append(reg.acquire("a"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    while not loader.calls:
        threading.Event().wait(0.01)
    states = reg.snapshot()
    assert [(s.key, s.status) for s in states] == [("a", "loading")]
    loader.gate.set()
    for t in threads:
        t.join(5)
    assert not errors
    assert loader.calls == [("a", Precision.BF16)]
    assert len(leases) == 8 and {id(lease.loaded) for lease in leases} == {id(leases[0].loaded)}
    assert reg.snapshot()[0].in_use == 8
    for lease in leases:
        lease.release()
    assert reg.snapshot()[0].in_use == 0


def test_idle_models_are_evicted_least_recently_used_first(clock) -> None:
    room_for_two = need("a", Precision.BF16) * 2 + GB // 2
    reg, loader = registry(room_for_two + estimate(CATALOG.get("a"), Precision.BF16).kv_cache, clock)
    for key in ("a", "b"):
        clock.now += 1
        reg.acquire(key).release()
    clock.now += 1
    reg.acquire("a").release()  # now b is the least recently used
    clock.now += 1
    with reg.acquire("c") as lease:
        assert lease.precision is Precision.BF16
    assert loader.resident() == {("a", Precision.BF16), ("c", Precision.BF16)}


def test_a_model_in_use_is_never_evicted() -> None:
    reg, loader = registry(need("a", Precision.BF16) + GB // 10)
    held = reg.acquire("a")
    # b cannot have a's memory while a is in use: it steps down instead, or is refused.
    with pytest.raises(DoesNotFitError) as info:
        reg.acquire("b")
    assert ("a", Precision.BF16) in loader.resident()
    assert "in use by other requests: a" in str(info.value)
    held.release()
    with reg.acquire("b"):
        assert ("a", Precision.BF16) not in loader.resident()


def test_steps_down_the_ladder_when_bf16_does_not_fit() -> None:
    reg, loader = registry(need("a", Precision.INT8) + 1)
    with reg.acquire("a") as lease:
        assert lease.precision is Precision.INT8
    reg2, _ = registry(need("a", Precision.NF4) + 1)
    with reg2.acquire("a") as lease:
        assert lease.precision is Precision.NF4


def test_eviction_is_tried_before_stepping_down(clock) -> None:
    reg, loader = registry(need("a", Precision.BF16) + GB // 10, clock)
    reg.acquire("a").release()
    with reg.acquire("b") as lease:
        assert lease.precision is Precision.BF16
    assert loader.resident() == {("b", Precision.BF16)}


def test_refusal_says_what_is_needed_and_what_is_free() -> None:
    reg, loader = registry(1 * GB)
    with pytest.raises(DoesNotFitError) as info:
        reg.acquire("big")
    message = str(info.value)
    assert message.startswith("big does not fit: it needs about ")
    assert f"{need('big', Precision.NF4) / 1024**3:.1f} GiB even at nf4" in message
    assert "953.7 MiB of 953.7 MiB is free on fake" in message
    assert "Pick a smaller model" in message
    assert loader.calls == [] and reg.snapshot() == []


def test_explicit_precision_is_not_stepped_down() -> None:
    reg, loader = registry(need("a", Precision.INT8) + 1)
    with pytest.raises(DoesNotFitError, match="even at bf16"):
        reg.acquire("a", Precision.BF16)
    with reg.acquire("a", Precision.NF4) as lease:
        assert lease.precision is Precision.NF4


def test_auto_request_reuses_any_resident_precision() -> None:
    reg, loader = registry(100 * GB)
    reg.load("a", Precision.NF4)
    with reg.acquire("a") as lease:
        assert lease.precision is Precision.NF4
    assert loader.calls == [("a", Precision.NF4)]


def test_out_of_memory_while_loading_evicts_and_retries_one_step_lower_once(clock) -> None:
    reg, loader = registry(100 * GB, clock)
    reg.acquire("b").release()
    loader.fail[("a", Precision.BF16)] = OutOfMemory("boom")
    with reg.acquire("a") as lease:
        assert lease.precision is Precision.INT8
    assert loader.calls[-2:] == [("a", Precision.BF16), ("a", Precision.INT8)]
    assert ("b", Precision.BF16) not in loader.resident()
    # Twice out of memory: the error reaches the caller, and the registry is left clean.
    loader.fail[("c", Precision.BF16)] = OutOfMemory("boom")
    loader.fail[("c", Precision.INT8)] = OutOfMemory("boom again")
    with pytest.raises(OutOfMemory, match="boom again"):
        reg.acquire("c")
    assert all(s.key != "c" for s in reg.snapshot())


def test_a_failed_load_reaches_every_waiter_and_can_be_retried() -> None:
    reg, loader = registry(100 * GB)
    loader.gate = threading.Event()
    loader.fail[("a", Precision.BF16)] = ModelLoadError("no network")
    errors = []

    def request():
        try:
            reg.acquire("a")
        except ModelLoadError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=request) for _ in range(3)]
    for t in threads:
        t.start()
    while not loader.calls:
        threading.Event().wait(0.01)
    loader.gate.set()
    for t in threads:
        t.join(5)
    assert errors == ["no network"] * 3
    assert reg.snapshot() == []
    del loader.fail[("a", Precision.BF16)]
    with reg.acquire("a"):
        pass


def test_unexpected_loader_errors_are_wrapped_for_the_user() -> None:
    reg, loader = registry(100 * GB)
    loader.fail[("a", Precision.BF16)] = RuntimeError("kaput")
    with pytest.raises(PlaygroundError, match="Loading a failed unexpectedly: RuntimeError: kaput"):
        reg.acquire("a")


def test_keep_alive_unloads_idle_models(clock) -> None:
    reg, loader = registry(100 * GB, clock, keep_alive_s=60)
    reg.acquire("a").release()
    held = reg.acquire("b")
    clock.now += 30
    assert reg.reap_idle() == []
    assert reg.snapshot()[0].idle_s == 30
    clock.now += 31
    assert reg.reap_idle() == ["a"]
    assert loader.resident() == {("b", Precision.BF16)}  # in use, however long
    held.release()


def test_unload_refuses_while_in_use() -> None:
    reg, loader = registry(100 * GB)
    lease = reg.acquire("a")
    with pytest.raises(PlaygroundError, match="in use"):
        reg.unload("a")
    lease.release()
    assert reg.unload("a") == ["a"]
    assert reg.unload("a") == []


def test_unknown_model_lists_valid_keys() -> None:
    reg, _ = registry(100 * GB)
    with pytest.raises(PlaygroundError, match="Unknown model 'zzz'. Valid models: a, b, big, c."):
        reg.acquire("zzz")


def test_step_down_after_out_of_memory_in_use() -> None:
    reg, loader = registry(100 * GB)
    lease = reg.acquire("a")
    lower = reg.step_down(lease)
    assert lower.precision is Precision.INT8
    assert loader.resident() == {("a", Precision.INT8)}
    lower.release()
    bottom = reg.acquire("a", Precision.NF4)
    with pytest.raises(OutOfMemory, match="even at nf4"):
        reg.step_down(bottom)


def test_eviction_off_keeps_models_resident() -> None:
    reg, loader = registry(need("a", Precision.BF16) + GB // 10, evict=False)
    reg.acquire("a").release()
    with pytest.raises(DoesNotFitError):
        reg.acquire("b")
    assert loader.resident() == {("a", Precision.BF16)}


def test_loading_reserves_memory_so_parallel_loads_do_not_overcommit() -> None:
    reg, loader = registry(need("a", Precision.BF16) + GB // 10)
    loader.gate = threading.Event()
    first = threading.Thread(target=lambda: reg.acquire("a").release())
    first.start()
    while not loader.calls:
        threading.Event().wait(0.01)
    # a's load is in flight and holds its estimate: b must not plan against the same bytes.
    with pytest.raises(DoesNotFitError):
        reg.acquire("b")
    loader.gate.set()
    first.join(5)


def test_batched_kv_budget_grows_as_far_as_memory_allows() -> None:
    """A model fits with one window of KV cache; it gets more, up to a full batch, where memory allows."""
    spec = CATALOG.get("a")
    window, per_token = context_tokens(spec), kv_cache_bytes(spec, 1)
    roomy, _ = registry(100 * GB, batch=4)
    roomy.acquire("a").release()
    assert roomy.snapshot()[0].kv_tokens == 4 * window
    spare = 1000 * per_token  # a thousand tokens more than one window
    tight, loader = registry(need("a", Precision.BF16) + spare, batch=4)
    tight.acquire("a").release()
    assert loader.kv_granted[("a", Precision.BF16)] == window + 1000
    # The granted cache stays spoken for: b does not fit next to a in what is left.
    assert tight._free(loader.memory()) == need("a", Precision.BF16) + spare - estimate(
        spec, Precision.BF16).weights - (window + 1000) * per_token


def test_a_model_whose_top_precision_is_fp32_starts_there() -> None:
    catalog = parse_catalog({"models": {"f": {"source": "Qwen/f", "tasks": ["chat"], "params_billion": 1.0,
                                              "architecture": ARCH, "precision": "fp32"}}})
    loader = FakeLoader(100 * GB)
    with Registry(catalog, loader).acquire("f") as lease:
        assert lease.precision is Precision.FP32
    small = FakeLoader(estimate(catalog.get("f"), Precision.BF16).total + GB // 10)
    with Registry(catalog, small).acquire("f") as lease:
        assert lease.precision is Precision.BF16  # fp32 does not fit: one step down
