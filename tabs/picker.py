"""The model picker every tab shares: models grouped by family, with size, loaded state and whether they fit.

`choices(registry, specs)` gives (label, key) pairs for a `gr.Dropdown`, Qwen3 first, each family
by size; a label reads like "Qwen3 · 8.2 B · qwen3-8b · fits (bf16)". `info` is the line shown
under the picker (and why a model cannot load here); `default_model` picks the best Qwen3 that
fits this machine (a model on another server is labelled "remote"). Numbers come from the registry
(loaded copies, estimates, free memory); this module only words them, in the reader's language
(`language`, None: English). `Picked` is what a tab hands the app of its picker, so the app can set it
from outside (the model guide's buttons).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from playground.catalog import ModelSpec, Precision, Task
from playground.i18n import Said, say
from playground.memory import format_bytes
from playground.registry import Registry

FAMILIES = {"qwen3": "Qwen3", "qwen3-vl": "Qwen3-VL", "qwen2.5": "Qwen2.5", "qwen2.5-coder": "Qwen2.5-Coder",
            "qwen2.5-math": "Qwen2.5-Math", "qwen2.5-vl": "Qwen2.5-VL"}
# On the CPU a bigger model answers too slowly to chat with (a 4B writes about a token a second on
# two cores): the default there is the best Qwen3 up to this size.
CPU_DEFAULT_MAX_BILLION = 2.0


@dataclass(frozen=True)
class Picked:
    """A tab's model picker as the app sees it: the dropdown, and `follow(event)`, which chains after `event` (one
    that set the dropdown from outside) what the tab does when the reader picks a model by hand: its presets,
    switches and lines follow the model."""

    model: Any  # the tab's gr.Dropdown
    follow: Callable[[Any], Any]


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


def size_text(spec: ModelSpec, language: str | None = None) -> str:
    billions = spec.params_billion
    if not billions:
        return say(language, "picker.unknown_size")
    if billions >= 1:
        return say(language, "picker.billions", size=f"{billions:.3g}")
    return say(language, "picker.millions", size=f"{billions * 1000:.3g}")


def family_name(spec: ModelSpec, language: str | None = None) -> str:
    if spec.family:
        return FAMILIES.get(spec.family, spec.family)
    return say(language, "picker.family_remote" if spec.remote else "picker.family_local")


def status_text(where: Fit, language: str | None = None) -> str:
    if where.loaded is not None:
        return say(language, "picker.loaded", precision=where.loaded)
    if where.fits is None:
        return say(language, "picker.too_big")
    return say(language, "picker.fits", precision=where.fits)


def label(registry: Registry, spec: ModelSpec, language: str | None = None) -> str:
    if spec.unavailable:
        status = say(language, "picker.unavailable")
    elif spec.remote:
        status = say(language, "picker.remote")
    else:
        status = status_text(fit(registry, spec), language)
    parts = [family_name(spec, language), size_text(spec, language), spec.key, status]
    return say(language, "picker.separator").join(parts)


def _order(spec: ModelSpec) -> tuple[int, float, str]:
    families = list(FAMILIES)
    rank = families.index(spec.family) if spec.family in families else len(families)
    return rank, spec.params_billion or 0.0, spec.key


def choices(registry: Registry, specs: Sequence[ModelSpec], language: str | None = None) -> list[tuple[str, str]]:
    return [(label(registry, spec, language), spec.key) for spec in sorted(specs, key=_order)]


def info(registry: Registry, spec: ModelSpec, language: str | None = None) -> str:
    """One line about the picked model: size, context, and whether and how it fits here."""
    def said(key: str, **params: object) -> str:
        return say(language, key, **params)

    if spec.unavailable:
        reason = spec.unavailable.text(language) if isinstance(spec.unavailable, Said) else spec.unavailable
        return f"**{spec.key}**{said('picker.separator')}{said('picker.cannot_load', reason=reason)}"
    parts = [f"**{spec.key}**"]
    if spec.remote is not None:
        parts.append(said("picker.runs_remote", url=spec.remote.base_url, model=spec.remote.model))
        if spec.context_length:
            parts.append(said("picker.context", tokens=spec.context_length))
        return said("picker.separator").join(parts)
    where = fit(registry, spec)
    parts.append(said("picker.parameters", size=size_text(spec, language)))
    if spec.context_length:
        parts.append(said("picker.context", tokens=spec.context_length))
    if where.loaded is not None:
        parts.append(said("picker.loaded_at", precision=where.loaded))
    elif where.fits is not None:
        need = said("picker.need", size=format_bytes(where.need)) if where.need else ""
        parts.append(said("picker.fits_here", precision=where.fits, need=need))
    else:
        parts.append(said("picker.does_not_fit", need=format_bytes(where.need or 0), precision=spec.ladder[-1],
                          free=format_bytes(max(where.free, 0))))
    return said("picker.separator").join(parts)


def default_model(registry: Registry, specs: Sequence[ModelSpec]) -> ModelSpec:
    """The best hybrid Qwen3 (it thinks, or not, as asked) that fits at 16-bit; else the first model."""
    limit = CPU_DEFAULT_MAX_BILLION if registry.memory().kind == "cpu" else float("inf")
    candidates = [s for s in specs if s.family == "qwen3" and Task.THINKING in s.tasks and not s.is_vision
                  and not s.unavailable and s.remote is None
                  and (s.params_billion or 0) <= limit and fit(registry, s).fits in (Precision.FP32, Precision.BF16)]
    if candidates:
        return max(candidates, key=lambda s: s.params_billion or 0)
    return specs[0]
