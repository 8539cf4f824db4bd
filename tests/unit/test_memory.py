"""Memory arithmetic against hand-computed figures."""

from __future__ import annotations

import psutil
import pytest

from playground import memory
from playground.catalog import Architecture, ModelSpec, Task, load_catalog
from playground.memory import (
    LADDER,
    Precision,
    estimate,
    format_bytes,
    kv_cache_bytes,
    peak_used,
    probe,
    spread,
    weight_bytes,
)

GIB = 1024**3


def spec(**arch) -> ModelSpec:
    base = dict(layers=10, attention_heads=8, kv_heads=2, head_dim=64, hidden_size=512, intermediate_size=2048,
                vocab_size=1000, tie_word_embeddings=True)
    return ModelSpec(key="m", source="Qwen/M", tasks=frozenset({Task.CHAT}), params_billion=0.01,
                     context_length=32768, architecture=Architecture(**{**base, **arch}))


def test_weights_by_precision_keep_embeddings_16_bit() -> None:
    s = spec()
    embeddings = 1000 * 512  # tied: counted once
    linear = 10_000_000 - embeddings
    assert weight_bytes(s, Precision.BF16) == 2 * 10_000_000
    assert weight_bytes(s, Precision.INT8) == int(linear * 1.0 + embeddings * 2)
    assert weight_bytes(s, Precision.NF4) == int(linear * 0.52 + embeddings * 2)


def test_untied_embeddings_count_the_output_head_too() -> None:
    assert spec(tie_word_embeddings=False).architecture.embedding_params == 2 * 1000 * 512


def test_moe_experts_stay_16_bit() -> None:
    moe = spec(experts=4, experts_per_token=2, moe_intermediate_size=128)
    experts = 10 * 4 * 3 * 512 * 128
    kept = experts + 1000 * 512
    assert weight_bytes(moe, Precision.NF4) == int((10_000_000 - kept) * 0.52 + kept * 2)


def test_kv_cache_formula() -> None:
    # 2 (K and V) x layers x kv_heads x head_dim x 2 bytes x tokens
    assert kv_cache_bytes(spec(), 1000) == 2 * 10 * 2 * 64 * 2 * 1000


def test_estimate_total_and_ordering() -> None:
    s = spec()
    e = estimate(s, Precision.BF16, tokens=100)
    assert e.total == e.weights + e.kv_cache + e.overhead
    assert e.overhead == int(e.weights * 0.10)
    totals = [estimate(s, p).total for p in LADDER]
    assert totals == sorted(totals, reverse=True)


def test_known_model_figures() -> None:
    """Qwen3-8B at bf16 is about 16 GB of weights; its cache is 144 KiB per token."""
    qwen3_8b = load_catalog().get("qwen3-8b")
    assert weight_bytes(qwen3_8b, Precision.BF16) == pytest.approx(16.4e9, rel=0.01)
    assert kv_cache_bytes(qwen3_8b, 1) == 2 * 36 * 8 * 128 * 2


def test_estimate_needs_numbers() -> None:
    bare = ModelSpec(key="x", source="/x", tasks=frozenset({Task.CHAT}))
    with pytest.raises(ValueError, match="needed"):
        estimate(bare, Precision.BF16)


def test_ladder_steps_down() -> None:
    assert Precision.BF16.lower() is Precision.INT8
    assert Precision.INT8.lower() is Precision.NF4
    assert Precision.NF4.lower() is None


def test_probe_cpu_reports_plausible_numbers() -> None:
    memory = probe("cpu")
    assert memory.kind == "cpu"
    assert 0 < memory.free <= memory.total


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1536, "1.5 KiB"), (5 * GIB, "5.0 GiB"), (2048 * GIB, "2048.0 GiB")]
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


def test_a_memory_limit_is_spread_over_gpus_by_what_each_has_free() -> None:
    gib = 2**30
    assert spread(30 * gib, [40 * gib, 20 * gib]) == {0: 20 * gib, 1: 10 * gib}
    assert spread(100 * gib, [40 * gib, 20 * gib]) == {0: 40 * gib, 1: 20 * gib}  # never more than is free
    assert spread(-1, [40 * gib]) == {0: 0}  # the limit is used up: nothing more may load


def test_peak_memory_is_read_in_each_platforms_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    def maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    monkeypatch.setattr(memory.sys, "platform", "linux")  # Linux reports KiB
    before, linux, after = maxrss(), peak_used("cpu"), maxrss()
    assert before * 1024 <= linux <= after * 1024 and linux > psutil.Process().memory_info().rss // 2
    monkeypatch.setattr(memory.sys, "platform", "darwin")  # macOS reports bytes already
    before, darwin, after = maxrss(), peak_used("cpu"), maxrss()
    assert before <= darwin <= after
