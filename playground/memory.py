"""Memory arithmetic: how much a model needs at each precision, and how much is free.

Estimates come from catalogue numbers alone, before anything is loaded, so the registry can
decide where a model fits and the Models tab can show it. Weights are counted per kind of
tensor, because bitsandbytes quantizes only linear layers: embeddings, the output head and
norms stay 16-bit, and (measured, see `benchmarks/footprint.py`) so do Qwen3-MoE's experts,
which transformers stores as fused 3-D parameters rather than `nn.Linear` modules.

Probing free memory asks torch for the GPU and psutil for the CPU; nothing here loads
models or decides what to evict.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from playground.catalog import ModelSpec, Precision
from playground.i18n import Said

GIB = 1024**3


LADDER: tuple[Precision, ...] = (Precision.BF16, Precision.INT8, Precision.NF4)  # the default ladder

# Bytes per parameter of quantizable linear layers. NF4 packs two weights per byte and
# double quantization adds about 0.02 B/param of quantization constants (QLoRA, sec. 2).
LINEAR_BYTES = {Precision.FP32: 4.0, Precision.BF16: 2.0, Precision.INT8: 1.0, Precision.NF4: 0.52}
# Embeddings, lm_head, norms and MoE experts are never quantized: they stay in the compute
# dtype, 16-bit unless the model is loaded in full float32. The KV cache is in that dtype too.
def unquantized_bytes(precision: Precision) -> int:
    return 4 if precision is Precision.FP32 else 2

# What a loaded model needs beyond weights and cache: activations, logits, allocator slack.
OVERHEAD_FRACTION = 0.10
DEFAULT_CONTEXT_TOKENS = 8192


@dataclass(frozen=True)
class Estimate:
    precision: Precision
    weights: int
    kv_cache: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


@dataclass(frozen=True)
class DeviceMemory:
    """Free and total bytes of the device models are loaded onto."""

    kind: str  # "cuda" or "cpu"
    name: str  # in English ("CPU RAM"), or the GPU's own name
    free: int
    total: int
    said: Said | None = None  # the name as words for people, where it is ours rather than the device's

    @property
    def words(self) -> Said | str:
        """The device's name for a sentence: said in the reader's language where it is ours."""
        return self.said or self.name


def weight_bytes(spec: ModelSpec, precision: Precision) -> int:
    """Bytes of weights at `precision`; needs `params_billion` and `architecture`."""
    arch = spec.architecture
    if arch is None or spec.params_billion is None:
        raise ValueError(f"{spec.key}: parameter count and architecture are needed to estimate memory")
    total = spec.params_billion * 1e9
    kept = min(total, arch.embedding_params + arch.expert_params)
    linear = total - kept
    return int(linear * LINEAR_BYTES[precision] + kept * unquantized_bytes(precision))


def kv_cache_bytes(spec: ModelSpec, tokens: int, precision: Precision = Precision.BF16) -> int:
    """2 (K and V) x layers x kv_heads x head_dim x bytes x tokens."""
    arch = spec.architecture
    if arch is None:
        raise ValueError(f"{spec.key}: architecture is needed to estimate the KV cache")
    return 2 * arch.layers * arch.kv_heads * arch.head_dim * unquantized_bytes(precision) * tokens


def context_tokens(spec: ModelSpec, limit: int = DEFAULT_CONTEXT_TOKENS) -> int:
    """Tokens of context the playground reserves cache for: the model's window, capped."""
    return min(spec.context_length or limit, limit)


def estimate(spec: ModelSpec, precision: Precision, tokens: int | None = None) -> Estimate:
    """Memory to load `spec` at `precision` with KV cache for `tokens` tokens (one full window by default)."""
    tokens = context_tokens(spec) if tokens is None else tokens
    weights = weight_bytes(spec, precision)
    return Estimate(
        precision=precision,
        weights=weights,
        kv_cache=kv_cache_bytes(spec, tokens, precision),
        overhead=int(weights * OVERHEAD_FRACTION),
    )


def probe(device: str) -> DeviceMemory:
    """Free and total memory of `device` right now: every visible GPU together for "cuda" (a model loaded with
    device_map auto spreads over them all), Apple's unified memory for "mps", RAM for "cpu"."""
    if device == "cuda":
        import torch

        count = torch.cuda.device_count()
        free = total = 0
        for index in range(count):
            f, t = torch.cuda.mem_get_info(index)
            free, total = free + f, total + t
        name = torch.cuda.get_device_name(0)
        return DeviceMemory("cuda", name if count == 1 else f"{count} x {name}", free, total)
    if device == "mps":
        import torch

        total = torch.mps.recommended_max_memory()
        return DeviceMemory("mps", "Apple GPU (unified memory)", max(total - torch.mps.driver_allocated_memory(), 0),
                            total, Said("load.device_mps"))
    import psutil

    vm = psutil.virtual_memory()
    return DeviceMemory("cpu", "CPU RAM", vm.available, vm.total, Said("load.device_cpu"))


def used(device: str) -> int:
    """Bytes this process holds on `device`: reserved by torch on CUDA (all GPUs), allocated on MPS, the
    resident set on the CPU."""
    if device == "cuda":
        import torch

        return sum(torch.cuda.memory_reserved(i) for i in range(torch.cuda.device_count()))
    if device == "mps":
        import torch

        return torch.mps.current_allocated_memory()
    import psutil

    return psutil.Process().memory_info().rss


def peak_used(device: str) -> int | None:
    """The most this process has held on `device` (None where the platform does not say)."""
    if device == "cuda":
        import torch

        return sum(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count()))
    if device == "mps":
        import torch

        return torch.mps.driver_allocated_memory()  # MPS keeps no peak: what the driver holds now
    try:
        import resource
    except ImportError:  # Windows: the peak working set
        import psutil

        return getattr(psutil.Process().memory_info(), "peak_wset", None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


def spread(room: int, free: list[int]) -> dict[int, int]:
    """`room` bytes shared over GPUs in proportion to what each has free, none given more than it has: the
    `max_memory` that makes `from_pretrained` (device_map auto) keep a model inside a `--memory-limit`."""
    total = sum(free)
    if total <= 0:
        return dict.fromkeys(range(len(free)), 0)
    share = min(max(room, 0), total)
    return {index: min(f, int(share * f / total)) for index, f in enumerate(free)}


def format_bytes(n: float) -> str:
    """Human-readable size in binary units: 1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
