"""The model picker every tab shares: models grouped by family, with size, loaded state and whether they fit.

`choices(registry, specs)` gives (label, key) pairs for a `gr.Dropdown`, Qwen3 first, each family
by size; a label reads like "Qwen3 · 8.2 B · qwen3-8b · fits (bf16)". `info` is the line shown
under the picker (and why a model cannot load here); `default_model` picks the best Qwen3 that
fits this machine (a model on another server is labelled "remote"). Numbers come from the registry
(loaded copies, estimates, free memory); this module only words them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playground.catalog import ModelSpec, Precision, Task
from playground.memory import format_bytes
from playground.registry import Registry

FAMILIES = {"qwen3": "Qwen3", "qwen3-vl": "Qwen3-VL", "qwen2.5": "Qwen2.5", "qwen2.5-coder": "Qwen2.5-Coder",
            "qwen2.5-math": "Qwen2.5-Math", "qwen2.5-vl": "Qwen2.5-VL"}
# On the CPU a bigger model answers too slowly to chat with (a 4B writes about a token a second on
# two cores): the default there is the best Qwen3 up to this size.
CPU_DEFAULT_MAX_BILLION = 2.0


@dataclass(frozen=True)
class Fit:
    """Where `spec` stands on this machine now."""

    loaded: Precision | None  # the precision of a loaded (or loading) copy
    fits: Precision | None  # the highest precision that fits (free memory plus what idle models give back)
    need: int | None  # bytes at `fits`, or at the lowest precision when nothing fits
    free: int  # that room, in bytes


def fit(registry: Registry, spec: ModelSpec) -> Fit:
    state = registry.state(spec.key)
    free = registry.room()
    need = None
    for precision in spec.ladder:
        estimate = registry.estimate(spec, precision)
        need = estimate.total if estimate is not None else None
        if need is None or need <= free:
            return Fit(state.precision if state else None, precision, need, free)
    return Fit(state.precision if state else None, None, need, free)


def size_text(spec: ModelSpec) -> str:
    billions = spec.params_billion
    if not billions:
        return "? B"
    return f"{billions:.3g} B" if billions >= 1 else f"{billions * 1000:.3g} M"


def family_name(spec: ModelSpec) -> str:
    return FAMILIES.get(spec.family, spec.family or ("Remote" if spec.remote else "Local"))


def status_text(where: Fit) -> str:
    if where.loaded is not None:
        return f"loaded ({where.loaded})"
    if where.fits is None:
        return "too big here"
    return f"fits ({where.fits})"


def label(registry: Registry, spec: ModelSpec) -> str:
    status = "unavailable" if spec.unavailable else "remote" if spec.remote else status_text(fit(registry, spec))
    return f"{family_name(spec)} · {size_text(spec)} · {spec.key} · {status}"


def _order(spec: ModelSpec) -> tuple[int, float, str]:
    families = list(FAMILIES)
    rank = families.index(spec.family) if spec.family in families else len(families)
    return rank, spec.params_billion or 0.0, spec.key


def choices(registry: Registry, specs: Sequence[ModelSpec]) -> list[tuple[str, str]]:
    return [(label(registry, spec), spec.key) for spec in sorted(specs, key=_order)]


def info(registry: Registry, spec: ModelSpec) -> str:
    """One line about the picked model: size, context, and whether and how it fits here."""
    if spec.unavailable:
        return f"**{spec.key}** · ⚠️ cannot be loaded: {spec.unavailable}"
    if spec.remote is not None:
        window = f" · {spec.context_length:,}-token context" if spec.context_length else ""
        return f"**{spec.key}** · runs on the server at {spec.remote.base_url} (as {spec.remote.model}){window}"
    where = fit(registry, spec)
    parts = [f"**{spec.key}**", f"{size_text(spec)} parameters"]
    if spec.context_length:
        parts.append(f"{spec.context_length:,}-token context")
    if where.loaded is not None:
        parts.append(f"loaded at {where.loaded}")
    elif where.fits is not None:
        need = f", about {format_bytes(where.need)}" if where.need else ""
        parts.append(f"fits here at {where.fits}{need}; loads on the first message")
    else:
        parts.append(
            f"⚠️ does not fit here: it needs about {format_bytes(where.need or 0)} even at {spec.ladder[-1]}, and "
            f"{format_bytes(max(where.free, 0))} can be made free here. Pick a smaller model"
        )
    return " · ".join(parts)


def default_model(registry: Registry, specs: Sequence[ModelSpec]) -> ModelSpec:
    """The best hybrid Qwen3 (it thinks, or not, as asked) that fits at 16-bit; else the first model."""
    limit = CPU_DEFAULT_MAX_BILLION if registry.memory().kind == "cpu" else float("inf")
    candidates = [s for s in specs if s.family == "qwen3" and Task.THINKING in s.tasks and not s.is_vision
                  and not s.unavailable and s.remote is None
                  and (s.params_billion or 0) <= limit and fit(registry, s).fits in (Precision.FP32, Precision.BF16)]
    if candidates:
        return max(candidates, key=lambda s: s.params_billion or 0)
    return specs[0]
