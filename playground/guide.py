"""The model guide: the lesson's comparison of the Qwen series and its advice on which model to pick for a
task, joined with this machine.

The guide is data (`guide.toml` beside this file): the comparison matrix (one row per series: sizes,
context window, main strength, best use), the selection guide (per task, catalogue keys from small to
large, each with why) and the rule for the speed class. Its prose is message keys, so the words live in
`locales/<language>/guide.toml` with every other word of the app. `parse_guide` validates the data's
shape once, purely (the English message keys are handed to it); `load_guide` reads the file.

`place(guide, registry, key)` joins one recommendation with this machine now: whether this app's
catalogue has the model, whether a copy is loaded, and for bf16 / int8 / NF4 whether a load would go
ahead, which is the registry's own decision (`Registry.fits`, the test its planner makes), so the guide
never says "fits" where the registry would refuse. `speed_of` estimates how fast the model would write
here (see `Speed`). `series_for` and `picks_for` are the filters. Words are made at the edge
(`tabs/guide.py`); nothing here knows about Gradio.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from playground.catalog import ModelSpec, Precision, Task
from playground.errors import PlaygroundError
from playground.i18n import DEFAULT, messages
from playground.registry import Registry

GUIDE_FILE = Path(__file__).with_name("guide.toml")

PRECISIONS: tuple[Precision, ...] = (Precision.BF16, Precision.INT8, Precision.NF4)  # the guide's columns
# The tabs a pick can open in, and the catalogue task a model needs to be in that tab's picker. (Not the Thinking
# tab: it compares two columns, and a pick is one model.)
TABS: Mapping[str, Task] = MappingProxyType({"chat": Task.CHAT, "math": Task.MATH, "code": Task.CODE,
                                             "vision": Task.VISION})
DEVICES = ("cpu", "cuda", "mps")  # the device kinds `playground.memory.probe` reports


class GuideError(PlaygroundError):
    """The guide file is malformed (a bug in the data: the message names the entry)."""


class Speed(StrEnum):
    """How fast a model would write here, as classes of an estimate (`speed_of`).

    Writing one token reads every active weight once, so decoding is bound by memory bandwidth:
    tokens/s ~ the device's effective bandwidth / bytes of the 16-bit active weights x the precision's
    factor (bitsandbytes' int8 decodes slower than bf16, NF4 about as fast). The bandwidths are typical
    figures per device kind (`guide.toml [speed]`, measured where a source says so); this machine's own
    bandwidth is not measured, so the class is an estimate, and the UI says so.
    """

    FAST = "fast"
    FINE = "fine"
    SLOW = "slow"
    VERY_SLOW = "very_slow"


class Where(StrEnum):
    """Where a recommended model is, for this app."""

    MISSING = "missing"  # this app's catalogue (a custom --catalog) lacks it
    UNAVAILABLE = "unavailable"  # in the catalogue, but its folder cannot be loaded
    REMOTE = "remote"  # another server runs it
    LOCAL = "local"  # loaded here, or loadable


# --- the data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One row of the comparison matrix."""

    id: str
    name: str  # a proper name, not translated
    sizes_billion: tuple[float, ...]  # smallest first
    active_billion: tuple[float, ...]  # MoE: active parameters per size; () for dense series
    context: int
    context_extended: int | None
    strength: str  # message keys
    use: str


@dataclass(frozen=True)
class Pick:
    """One recommendation: a catalogue key, the series it belongs to, and why (a message key)."""

    model: str
    series: str
    why: str


@dataclass(frozen=True)
class TaskGuide:
    """The picks for one task, smallest first, and the tab they open in."""

    id: str
    title: str  # message key
    tab: str  # a key of TABS
    picks: tuple[Pick, ...]


@dataclass(frozen=True)
class SpeedRule:
    bandwidth: Mapping[str, float]  # bytes per second, per device kind
    factor: Mapping[Precision, float]  # speed against 16-bit weights, per precision
    fast: float  # tokens per second at least, per class
    fine: float
    slow: float

    def classify(self, tokens_per_s: float) -> Speed:
        if tokens_per_s >= self.fast:
            return Speed.FAST
        if tokens_per_s >= self.fine:
            return Speed.FINE
        if tokens_per_s >= self.slow:
            return Speed.SLOW
        return Speed.VERY_SLOW


@dataclass(frozen=True)
class Guide:
    series: tuple[Series, ...]
    tasks: tuple[TaskGuide, ...]
    speed: SpeedRule

    def task(self, task_id: str) -> TaskGuide:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise GuideError(f"No task {task_id!r} in the guide; valid tasks: {', '.join(t.id for t in self.tasks)}.")

    @property
    def models(self) -> tuple[str, ...]:
        """Every recommended catalogue key, once, in the guide's order."""
        return tuple(dict.fromkeys(pick.model for task in self.tasks for pick in task.picks))


# --- validation (pure) ------------------------------------------------------------------------------

_TOP = {"series", "tasks", "speed"}
_SERIES_KEYS = {"id", "name", "sizes_billion", "active_billion", "context", "context_extended", "strength", "use"}
_TASK_KEYS = {"id", "title", "tab", "picks"}
_PICK_KEYS = {"model", "series", "why"}
_SPEED_KEYS = {"bandwidth_gb_s", "precision_factor", "classes_tok_s"}


def parse_guide(data: Mapping[str, Any], words: Collection[str], origin: str = "guide") -> Guide:
    """Validate parsed TOML into a `Guide`. `words` are the English message keys (every key the data names must
    be one). Raises `GuideError` naming the bad entry."""
    _keys(data, _TOP, origin, required=_TOP)
    series = tuple(_series(entry, i, words, origin) for i, entry in enumerate(_tables(data["series"], "series",
                                                                                       origin)))
    _unique([s.id for s in series], "series id", origin)
    known = {s.id for s in series}
    tasks = tuple(_task(entry, i, known, words, origin) for i, entry in enumerate(_tables(data["tasks"], "tasks",
                                                                                         origin)))
    _unique([t.id for t in tasks], "task id", origin)
    return Guide(series, tasks, _speed(data["speed"], origin))


def _series(entry: Mapping[str, Any], index: int, words: Collection[str], origin: str) -> Series:
    where = f"{origin}: [[series]] #{index + 1}"
    _keys(entry, _SERIES_KEYS, where, required=_SERIES_KEYS - {"active_billion", "context_extended"})
    name = _text(entry, "id", where)
    where = f"{origin}: [[series]] {name!r}"
    sizes = _numbers(entry, "sizes_billion", where)
    if list(sizes) != sorted(sizes):
        raise GuideError(f"{where}: `sizes_billion` must go from the smallest to the largest, got {list(sizes)}.")
    active = _numbers(entry, "active_billion", where) if "active_billion" in entry else ()
    if active and (len(active) != len(sizes) or any(a >= s for a, s in zip(active, sizes, strict=True))):
        raise GuideError(f"{where}: `active_billion` needs one number per size, each below its size "
                         f"(sizes {list(sizes)}, active {list(active)}).")
    context = _whole(entry, "context", where)
    extended = _whole(entry, "context_extended", where) if "context_extended" in entry else None
    if extended is not None and extended <= context:
        raise GuideError(f"{where}: `context_extended` ({extended:,}) must be larger than `context` ({context:,}).")
    return Series(id=name, name=_text(entry, "name", where), sizes_billion=sizes, active_billion=active,
                  context=context, context_extended=extended, strength=_key(entry, "strength", words, where),
                  use=_key(entry, "use", words, where))


def _task(entry: Mapping[str, Any], index: int, series: Collection[str], words: Collection[str],
          origin: str) -> TaskGuide:
    where = f"{origin}: [[tasks]] #{index + 1}"
    _keys(entry, _TASK_KEYS, where, required=_TASK_KEYS)
    name = _text(entry, "id", where)
    where = f"{origin}: [[tasks]] {name!r}"
    tab = _text(entry, "tab", where)
    if tab not in TABS:
        raise GuideError(f"{where}: `tab` must be one of {', '.join(TABS)}, got {tab!r}.")
    picks = []
    for i, pick in enumerate(_tables(entry["picks"], "picks", where)):
        at = f"{where} pick #{i + 1}"
        _keys(pick, _PICK_KEYS, at, required=_PICK_KEYS)
        model, of = _text(pick, "model", at), _text(pick, "series", at)
        if of not in series:
            raise GuideError(f"{at}: unknown series {of!r}; valid: {', '.join(sorted(series))}.")
        picks.append(Pick(model=model, series=of, why=_key(pick, "why", words, at)))
    _unique([p.model for p in picks], "model", where)
    return TaskGuide(id=name, title=_key(entry, "title", words, where), tab=tab, picks=tuple(picks))


def _speed(value: Any, origin: str) -> SpeedRule:
    where = f"{origin}: [speed]"
    if not isinstance(value, Mapping):
        raise GuideError(f"{where} must be a table.")
    _keys(value, _SPEED_KEYS, where, required=_SPEED_KEYS)
    bandwidth = _positive_table(value["bandwidth_gb_s"], "bandwidth_gb_s", DEVICES, where)
    factors = _positive_table(value["precision_factor"], "precision_factor", [p.value for p in Precision], where)
    classes = _positive_table(value["classes_tok_s"], "classes_tok_s", ("fast", "fine", "slow"), where)
    if not classes["fast"] > classes["fine"] > classes["slow"]:
        raise GuideError(f"{where}: `classes_tok_s` must go fast > fine > slow, got {dict(classes)}.")
    return SpeedRule(bandwidth=MappingProxyType({k: v * 1e9 for k, v in bandwidth.items()}),
                     factor=MappingProxyType({Precision(k): v for k, v in factors.items()}),
                     fast=classes["fast"], fine=classes["fine"], slow=classes["slow"])


def _keys(entry: Any, valid: Collection[str], where: str, required: Collection[str]) -> None:
    if not isinstance(entry, Mapping):
        raise GuideError(f"{where} must be a table.")
    extra = set(entry) - set(valid)
    if extra:
        raise GuideError(f"{where}: unknown keys {sorted(extra)}; valid keys: {sorted(valid)}.")
    missing = set(required) - set(entry)
    if missing:
        raise GuideError(f"{where}: missing {sorted(missing)}.")


def _tables(value: Any, name: str, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
        raise GuideError(f"{where}: `{name}` must be a non-empty array of tables ([[{name}]]).")
    return value


def _text(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise GuideError(f"{where}: `{name}` must be non-empty text, got {value!r}.")
    return value


def _key(entry: Mapping[str, Any], name: str, words: Collection[str], where: str) -> str:
    value = _text(entry, name, where)
    if value not in words:
        raise GuideError(f"{where}: `{name}` names the message key {value!r}, which has no English words: add it "
                         "to playground/locales/en/guide.toml.")
    return value


def _whole(entry: Mapping[str, Any], name: str, where: str) -> int:
    value = entry.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise GuideError(f"{where}: `{name}` must be a positive whole number of tokens, got {value!r}.")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _numbers(entry: Mapping[str, Any], name: str, where: str) -> tuple[float, ...]:
    value = entry.get(name)
    if not isinstance(value, list) or not value or not all(_number(v) for v in value):
        raise GuideError(f"{where}: `{name}` must be a non-empty list of positive numbers, got {value!r}.")
    return tuple(value)


def _positive_table(value: Any, name: str, names: Sequence[str], where: str) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != set(names) or not all(_number(v) for v in value.values()):
        raise GuideError(f"{where}: `{name}` must give a positive number for each of {', '.join(names)}, "
                         f"got {value!r}.")
    return {k: float(v) for k, v in value.items()}


def _unique(names: Sequence[str], what: str, where: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise GuideError(f"{where}: {what} {name!r} appears twice.")
        seen.add(name)


# --- loading (I/O) ----------------------------------------------------------------------------------


def load_guide(path: str | Path | None = None) -> Guide:
    """Read and validate the guide file (the built-in one by default) against the English message keys."""
    path = Path(path) if path is not None else GUIDE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GuideError(f"Guide file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GuideError(f"{path}: not valid TOML ({exc}).") from None
    return parse_guide(data, messages(DEFAULT), origin=str(path))


# --- joined with this machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """How one recommended model stands on this machine now (numbers only; words at the edge)."""

    key: str
    where: Where
    spec: ModelSpec | None = None
    reason: Any = None  # why an UNAVAILABLE model cannot load (the catalogue's words)
    loaded: Precision | None = None  # the precision of a loaded (or loading) copy
    loading: bool = False
    # Per guide precision: would a load go ahead now (the registry's decision)? None: not on this model's ladder.
    fits: Mapping[Precision, bool | None] = field(default_factory=dict)
    need: Mapping[Precision, int | None] = field(default_factory=dict)  # estimated bytes; None where unknown
    best: Precision | None = None  # what a request would get now: the loaded copy, else the highest that fits
    tokens_per_s: float | None = None  # the speed estimate at `best`
    speed: Speed | None = None
    device: str = "cpu"  # the device kind models load onto

    @property
    def usable(self) -> bool:
        """For the "fits on this machine" filter: a request could run it here now (a remote model runs on its
        server, so it counts)."""
        return self.where is Where.REMOTE or (self.where is Where.LOCAL and self.best is not None)


def place(guide: Guide, registry: Registry, key: str) -> Placement:
    """Where catalogue model `key` stands on this machine now (see `Placement`)."""
    spec = registry.catalog.models.get(key)
    if spec is None:
        return Placement(key, Where.MISSING)
    if spec.unavailable:
        return Placement(key, Where.UNAVAILABLE, spec, reason=spec.unavailable)
    if spec.remote is not None:
        return Placement(key, Where.REMOTE, spec)
    device = registry.memory().kind
    state = registry.state(key)
    loaded = state.precision if state is not None else None
    fits: dict[Precision, bool | None] = {}
    need: dict[Precision, int | None] = {}
    for precision in PRECISIONS:
        on_ladder = precision in spec.ladder
        fits[precision] = registry.fits(spec, precision) if on_ladder else None
        estimate = registry.estimate(spec, precision) if on_ladder else None
        need[precision] = estimate.total if estimate is not None else None
    # What an "auto" request gets (Registry.acquire without a precision): a resident copy, else the first rung
    # of the ladder that fits.
    def fits_at(precision: Precision) -> bool:
        known = fits.get(precision)
        return known if known is not None else registry.fits(spec, precision)

    best = loaded or next((p for p in spec.ladder if fits_at(p)), None)
    rate = tokens_per_s(guide.speed, spec, best, device) if best is not None else None
    return Placement(key, Where.LOCAL, spec, loaded=loaded, loading=state is not None and state.status == "loading",
                     fits=MappingProxyType(fits), need=MappingProxyType(need), best=best, tokens_per_s=rate,
                     speed=guide.speed.classify(rate) if rate is not None else None, device=device)


def tokens_per_s(rule: SpeedRule, spec: ModelSpec, precision: Precision, device: str) -> float | None:
    """The estimated decoding speed of `spec` at `precision` on a `device` kind (None where its size is unknown):
    effective bandwidth / bytes of the 16-bit active weights x the precision's factor."""
    billions = spec.active_params_billion or spec.params_billion
    if not billions:
        return None
    bandwidth = rule.bandwidth.get(device, rule.bandwidth["cpu"])
    return bandwidth / (billions * 1e9 * 2) * rule.factor[precision]


def placements(guide: Guide, registry: Registry) -> dict[str, Placement]:
    """Every recommended model, placed."""
    return {key: place(guide, registry, key) for key in guide.models}


# --- filters --------------------------------------------------------------------------------------------


def picks_for(guide: Guide, placed: Mapping[str, Placement], task: str | None = None,
              fits_only: bool = False) -> list[tuple[TaskGuide, list[Pick]]]:
    """The tasks shown (all, or the one asked) with the picks shown in each: with `fits_only`, only models a
    request could run here now. A task left with no pick is still listed (the UI says nothing fits)."""
    tasks = guide.tasks if task is None else (guide.task(task),)
    return [(t, [p for p in t.picks if not fits_only or placed[p.model].usable]) for t in tasks]


def series_for(guide: Guide, task: str | None = None) -> list[Series]:
    """The matrix rows for a task: the series its picks come from (every series for all tasks), in matrix order."""
    if task is None:
        return list(guide.series)
    wanted = {pick.series for pick in guide.task(task).picks}
    return [s for s in guide.series if s.id in wanted]
