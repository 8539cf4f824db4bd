"""The model guide: its data validated once, its join with this machine (the registry's own decision), its filters
and speed rule, and the tab's words, without a browser (on a fake device)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import gradio as gr
import pytest

from playground.catalog import Catalog, load_catalog, parse_catalog
from playground.errors import DoesNotFitError
from playground.guide import (
    GUIDE_FILE,
    PRECISIONS,
    TABS,
    GuideError,
    Speed,
    Where,
    load_guide,
    parse_guide,
    picks_for,
    place,
    placements,
    series_for,
    tokens_per_s,
)
from playground.i18n import messages
from playground.memory import Precision
from playground.registry import Registry
from tabs.guide import ALL, Destination, destination, open_in, view
from tests.fakes import FakeLoader

GIB = 2**30
GUIDE = load_guide()
CATALOG = load_catalog()
WORDS = messages("en")


def registry(total: int, catalog: Catalog = CATALOG) -> Registry:
    return Registry(catalog, FakeLoader(total))


# --- the built-in data ------------------------------------------------------------------------------


def test_the_guide_covers_the_lessons_tasks_and_series() -> None:
    assert [t.id for t in GUIDE.tasks] == ["basic", "reasoning", "code", "multimodal", "enterprise"]
    names = [s.name for s in GUIDE.series]
    for series in ("Qwen3", "Qwen3-MoE", "Qwen2.5", "Qwen2.5-Coder", "Qwen2.5-Math", "Qwen2.5-VL", "Qwen3-VL"):
        assert series in names
    assert all(len(t.picks) >= 3 for t in GUIDE.tasks)


def test_every_pick_is_in_the_builtin_catalogue_smallest_first_and_offered_by_its_tab() -> None:
    for task in GUIDE.tasks:
        specs = [CATALOG.get(pick.model) for pick in task.picks]  # UnknownModelError names a stale key
        sizes = [spec.params_billion for spec in specs]
        assert sizes == sorted(sizes), f"{task.id}: picks must go from small to large, got {sizes}"
        assert all(TABS[task.tab] in spec.tasks for spec in specs), task.id


def test_every_number_in_the_guide_file_has_a_source() -> None:
    """Each number sits under a comment block holding a `# Source:` line (numbers that share one may follow it)."""
    lines = GUIDE_FILE.read_text(encoding="utf-8").splitlines()
    numbered = {"sizes_billion", "active_billion", "context", "context_extended", "bandwidth_gb_s",
                "precision_factor", "classes_tok_s"}
    checked = 0
    for index, line in enumerate(lines):
        if line.split("=")[0].strip() not in numbered:
            continue
        above = index - 1
        while above >= 0 and "Source:" not in lines[above] and (
                lines[above].startswith("#") or lines[above].split("=")[0].strip() in numbered):
            above -= 1
        assert above >= 0 and "Source:" in lines[above], f"line {index + 1} ({line!r}) has no # Source: above it"
        checked += 1
    assert checked > 20


# --- validation -----------------------------------------------------------------------------------------

def good() -> dict[str, Any]:
    with GUIDE_FILE.open("rb") as file:
        return tomllib.load(file)


def set_in(path: tuple, value: Any) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        target = data
        for step in path[:-1]:
            target = target[step]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


DELETE = object()


def duplicate_series(data: dict) -> None:
    data["series"].append(copy.deepcopy(data["series"][0]))


def duplicate_pick(data: dict) -> None:
    data["tasks"][0]["picks"].append(copy.deepcopy(data["tasks"][0]["picks"][0]))


@pytest.mark.parametrize(("change", "message"), [
    pytest.param(set_in(("extra",), 1), "unknown keys ['extra']", id="unknown_top_level_table"),
    pytest.param(set_in(("speed",), DELETE), "missing ['speed']", id="no_speed_rule"),
    pytest.param(set_in(("series",), []), "`series` must be a non-empty array of tables", id="no_series"),
    pytest.param(set_in(("series", 0, "colour"), "red"), "unknown keys ['colour']", id="unknown_series_key"),
    pytest.param(set_in(("series", 0, "sizes_billion"), [8, 4]), "from the smallest to the largest",
                 id="sizes_out_of_order"),
    pytest.param(set_in(("series", 0, "sizes_billion"), [0, 4]), "non-empty list of positive numbers",
                 id="size_zero"),
    pytest.param(set_in(("series", 1, "active_billion"), [3]), "one number per size", id="active_per_size"),
    pytest.param(set_in(("series", 1, "active_billion"), [3, 300]), "each below its size", id="active_too_big"),
    pytest.param(set_in(("series", 0, "context"), 32768.5), "positive whole number of tokens",
                 id="context_not_whole"),
    pytest.param(set_in(("series", 0, "context_extended"), 1024), "must be larger than `context`",
                 id="extension_smaller"),
    pytest.param(set_in(("series", 0, "strength"), "guide.strength.nowhere"),
                 "'guide.strength.nowhere', which has no English words", id="strength_without_words"),
    pytest.param(set_in(("series", 0, "use"), DELETE), "missing ['use']", id="no_best_use"),
    pytest.param(duplicate_series, "series id 'qwen3' appears twice", id="duplicate_series"),
    pytest.param(set_in(("tasks", 0, "tab"), "models"), "`tab` must be one of chat, math, code, vision, got 'models'",
                 id="unknown_tab"),
    pytest.param(set_in(("tasks", 0, "title"), "Basic apps"), "'Basic apps', which has no English words",
                 id="title_is_words_not_a_key"),
    pytest.param(set_in(("tasks", 0, "picks"), []), "`picks` must be a non-empty array of tables", id="no_picks"),
    pytest.param(set_in(("tasks", 0, "picks", 0, "series"), "qwen4"), "unknown series 'qwen4'",
                 id="pick_of_unknown_series"),
    pytest.param(set_in(("tasks", 0, "picks", 0, "why"), DELETE), "missing ['why']", id="pick_without_why"),
    pytest.param(set_in(("tasks", 0, "picks", 0, "model"), ""), "`model` must be non-empty text",
                 id="pick_without_model"),
    pytest.param(duplicate_pick, "model 'qwen3-0.6b' appears twice", id="duplicate_pick"),
    pytest.param(set_in(("speed", "bandwidth_gb_s"), {"cpu": 11, "cuda": 400}),
                 "`bandwidth_gb_s` must give a positive number for each of cpu, cuda, mps", id="no_mps_bandwidth"),
    pytest.param(set_in(("speed", "precision_factor", "int8"), -1), "`precision_factor` must give a positive",
                 id="negative_factor"),
    pytest.param(set_in(("speed", "classes_tok_s"), {"fast": 5, "fine": 15, "slow": 1}), "fast > fine > slow",
                 id="classes_out_of_order"),
])
def test_bad_guide_data_is_refused_with_a_message_that_names_it(change, message: str) -> None:
    data = good()
    parse_guide(data, WORDS)  # the file itself is good: the change alone breaks it
    change(data)
    with pytest.raises(GuideError) as info:
        parse_guide(data, WORDS, origin="guide.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("guide.toml: ")


def test_a_guide_file_that_is_not_toml_is_named(tmp_path) -> None:
    broken = tmp_path / "guide.toml"
    broken.write_text("[[series]\n", encoding="utf-8")
    with pytest.raises(GuideError, match="not valid TOML"):
        load_guide(broken)


# --- joined with this machine: the registry's own decision --------------------------------------------

JOINED = ("qwen3-0.6b", "qwen3-4b-instruct-2507", "qwen3-8b", "qwen3-14b", "qwen3-30b-a3b-instruct-2507",
          "qwen2.5-vl-3b-instruct", "qwen2.5-coder-32b-instruct")
MEMORY_GIB = (1, 2, 4, 8, 12, 16, 24, 40, 64, 80, 160)
OTHER = "qwen3-1.7b"  # loaded beside: idle (the registry may unload it) or in use (it may not)


def machine(total_gib: int, other: str) -> Registry:
    """A fake machine of `total_gib` with `OTHER` absent, loaded and idle, or held by a request (where it fits)."""
    reg = registry(total_gib * GIB)
    if other != "absent" and place(GUIDE, reg, OTHER).best is not None:
        lease = reg.acquire(OTHER)
        if other == "idle":
            lease.release()
    return reg


def decision(make: Callable[[], Registry], key: str, precision: Precision | None) -> Precision | None:
    """What the registry does when a request asks for `key` (at `precision`, or the best): the precision it loads,
    or None when it refuses because the model does not fit."""
    try:
        with make().acquire(key, precision) as lease:
            return lease.precision
    except DoesNotFitError:
        return None


@pytest.mark.parametrize("other", ["absent", "idle", "in use"])
def test_fits_here_is_what_the_registry_decides_for_every_precision(other: str) -> None:
    seen: dict[Precision, set[bool]] = {p: set() for p in PRECISIONS}
    for gib in MEMORY_GIB:
        for key in JOINED:
            placed = place(GUIDE, machine(gib, other), key)
            for precision in PRECISIONS:
                registry_loads = decision(lambda gib=gib: machine(gib, other), key, precision) is precision
                assert placed.fits[precision] is registry_loads, (key, f"{gib} GiB", other, precision)
                seen[precision].add(registry_loads)
            assert placed.best == decision(lambda gib=gib: machine(gib, other), key, None), (key, gib, other)
            assert placed.usable is (placed.best is not None)
    # The table holds both answers at every precision: it cannot pass by saying "fits" (or "too big") throughout.
    assert all(answers == {True, False} for answers in seen.values())


def test_a_loaded_model_says_so_and_is_what_a_request_gets() -> None:
    reg = registry(8 * GIB)
    reg.load("qwen3-0.6b", Precision.INT8)
    placed = place(GUIDE, reg, "qwen3-0.6b")
    assert placed.loaded is Precision.INT8 and placed.best is Precision.INT8
    with reg.acquire("qwen3-0.6b") as lease:  # an "auto" request uses the resident copy
        assert lease.precision is placed.best
    shown = view(GUIDE, reg, "basic").picks[("basic", "qwen3-0.6b")]
    assert "loaded (int8)" in shown.model
    assert shown.fits[PRECISIONS.index(Precision.INT8)] == "✓ loaded"


def test_models_the_catalogue_lacks_are_named_without_a_button_or_a_crash() -> None:
    small = parse_catalog({"models": {"qwen3-0.6b": {
        "source": "Qwen/Qwen3-0.6B", "tasks": ["chat"], "params_billion": 0.6, "context_length": 32768,
        "architecture": {"layers": 28, "attention_heads": 16, "kv_heads": 8, "head_dim": 128, "hidden_size": 1024,
                         "intermediate_size": 3072, "vocab_size": 151936, "tie_word_embeddings": True}}}})
    reg = registry(8 * GIB, small)
    placed = placements(GUIDE, reg)
    assert placed["qwen3-0.6b"].where is Where.LOCAL and placed["qwen3-0.6b"].usable
    assert placed["qwen3-8b"].where is Where.MISSING and not placed["qwen3-8b"].usable
    shown = view(GUIDE, reg)
    assert "not in this app's catalogue" in shown.picks[("basic", "qwen3-8b")].model
    assert shown.picks[("basic", "qwen3-8b")].fits == () and shown.picks[("basic", "qwen3-8b")].speed == ""
    assert shown.picks[("basic", "qwen3-8b")].card() == (
        "**qwen3-8b** · not in this app's catalogue\n\n" + WORDS["guide.why.basic_qwen3_8b"])
    chat = Destination("chat", gr.Dropdown(choices=[("Qwen3 · qwen3-0.6b", "qwen3-0.6b")], value="qwen3-0.6b"))
    assert destination(GUIDE.task("basic"), "qwen3-8b", {"chat": chat}) is None
    assert destination(GUIDE.task("basic"), "qwen3-0.6b", {"chat": chat}) is chat


def test_remote_and_unavailable_models_are_placed_for_what_they_are() -> None:
    models = dict(CATALOG.models)
    models["qwen3-235b-a22b-instruct-2507"] = parse_catalog({"models": {"qwen3-235b-a22b-instruct-2507": {
        "backend": "openai", "base_url": "http://gpu-box:8000/v1", "model": "Qwen/Qwen3-235B-A22B-Instruct-2507",
        "tasks": ["chat"]}}}).get("qwen3-235b-a22b-instruct-2507")
    models["qwen3-14b"] = replace(CATALOG.get("qwen3-14b"), unavailable="/models/qwen3-14b has no config.json.")
    reg = registry(64 * GIB, Catalog(MappingProxyType(models)))
    remote, broken = place(GUIDE, reg, "qwen3-235b-a22b-instruct-2507"), place(GUIDE, reg, "qwen3-14b")
    assert remote.where is Where.REMOTE and remote.usable and remote.speed is None
    assert broken.where is Where.UNAVAILABLE and not broken.usable
    shown = view(GUIDE, reg, "enterprise", fits_only=True)
    assert shown.picks[("enterprise", "qwen3-235b-a22b-instruct-2507")].shown
    assert shown.picks[("enterprise", "qwen3-235b-a22b-instruct-2507")].speed == "runs on its server"
    assert not shown.picks[("enterprise", "qwen3-14b")].shown
    assert "cannot be loaded here: /models/qwen3-14b has no config.json." in \
        shown.picks[("enterprise", "qwen3-14b")].model


# --- filters -------------------------------------------------------------------------------------------


def test_the_task_filter_narrows_the_picks_and_the_matrix() -> None:
    placed = placements(GUIDE, registry(80 * GIB))
    [(task, picks)] = picks_for(GUIDE, placed, "code")
    assert task.id == "code" and [p.model for p in picks] == [p.model for p in GUIDE.task("code").picks]
    assert [s.id for s in series_for(GUIDE, "code")] == ["qwen2.5-coder"]
    assert [s.id for s in series_for(GUIDE, "multimodal")] == ["qwen2.5-vl", "qwen3-vl"]
    assert series_for(GUIDE, None) == list(GUIDE.series)
    with pytest.raises(GuideError, match="valid tasks: basic, reasoning"):
        picks_for(GUIDE, placed, "poetry")


def test_fits_only_keeps_what_a_request_could_run_here() -> None:
    reg = registry(4 * GIB)
    placed = placements(GUIDE, reg)
    shown = {task.id: [p.model for p in picks] for task, picks in picks_for(GUIDE, placed, fits_only=True)}
    everything = [p.model for task in GUIDE.tasks for p in task.picks]
    kept = [model for models in shown.values() for model in models]
    assert kept == [m for m in everything if placed[m].best is not None]
    assert "qwen3-0.6b" in shown["basic"] and "qwen3-32b" not in shown["enterprise"]
    assert 0 < len(kept) < len(everything)


def test_the_view_hides_filtered_rows_and_says_when_nothing_is_left() -> None:
    reg = registry(2 * GIB)
    everything = view(GUIDE, reg)
    assert all(everything.tasks.values()) and not any(everything.empty.values())
    assert all(row.shown for row in everything.picks.values())
    code_only = view(GUIDE, reg, "code")
    assert code_only.tasks == {t.id: t.id == "code" for t in GUIDE.tasks}
    assert list(code_only.matrix["Series"]) == ["Qwen2.5-Coder"]
    fitting = view(GUIDE, reg, "enterprise", fits_only=True)
    assert fitting.empty["enterprise"] and not any(r.shown for (t, _), r in fitting.picks.items() if t == "enterprise")


# --- the speed rule ------------------------------------------------------------------------------------


def test_speed_is_bandwidth_over_active_weight_bytes() -> None:
    rule = GUIDE.speed
    small, moe = CATALOG.get("qwen3-0.6b"), CATALOG.get("qwen3-30b-a3b-instruct-2507")
    assert tokens_per_s(rule, small, Precision.BF16, "cpu") == pytest.approx(11e9 / (0.6e9 * 2))
    assert tokens_per_s(rule, small, Precision.INT8, "cpu") == pytest.approx(11e9 / (0.6e9 * 2) * 0.4)
    # An MoE model reads only its active experts per token: 3.3B of its 30.5B.
    assert tokens_per_s(rule, moe, Precision.BF16, "cuda") == pytest.approx(400e9 / (3.3e9 * 2))
    assert tokens_per_s(rule, replace(small, params_billion=None), Precision.BF16, "cpu") is None


@pytest.mark.parametrize(("rate", "speed"), [
    (40.0, Speed.FAST), (15.0, Speed.FAST), (14.9, Speed.FINE), (5.0, Speed.FINE), (4.9, Speed.SLOW),
    (1.5, Speed.SLOW), (1.4, Speed.VERY_SLOW), (0.1, Speed.VERY_SLOW),
])
def test_speed_classes(rate: float, speed: Speed) -> None:
    assert GUIDE.speed.classify(rate) is speed


def test_the_speed_words_name_the_device_and_follow_what_would_load() -> None:
    reg = registry(16 * GIB)
    shown = view(GUIDE, reg, "basic")
    assert shown.picks[("basic", "qwen3-0.6b")].speed == "fine on this CPU"
    assert shown.picks[("basic", "qwen3-8b")].speed == "very slow on this CPU"  # int8 on two cores
    assert place(GUIDE, reg, "qwen3-8b").best is Precision.INT8
    too_small = view(GUIDE, registry(1 * GIB), "basic")
    assert too_small.picks[("basic", "qwen3-8b")].speed == ""  # it does not run here


# --- the tab's words and buttons ----------------------------------------------------------------------


def test_the_matrix_is_worded_with_sizes_and_context() -> None:
    table = view(GUIDE, registry(8 * GIB)).matrix
    assert list(table.columns) == ["Series", "Parameters", "Context", "Main strength", "Best use"]
    rows = {row["Series"]: row for _, row in table.iterrows()}
    assert rows["Qwen3"]["Parameters"] == "0.6–32 B"
    assert rows["Qwen3"]["Context"] == "32,768 tokens (131,072 with extension)"
    assert rows["Qwen3-MoE"]["Parameters"] == "30–235 B (3–22 B active per token)"
    assert rows["QwQ"]["Parameters"] == "32 B" and rows["Qwen2.5-Math"]["Context"] == "4,096 tokens"
    assert rows["Qwen2.5-Coder"]["Main strength"] == WORDS["guide.strength.qwen2_5_coder"]


def test_fit_cells_say_fits_or_what_is_needed() -> None:
    reg = registry(12 * GIB)
    placed = place(GUIDE, reg, "qwen3-8b")
    cells = view(GUIDE, reg, "basic").picks[("basic", "qwen3-8b")].fits
    for cell, precision in zip(cells, PRECISIONS, strict=True):
        assert cell.startswith("✓ fits (" if placed.fits[precision] else "✗ needs ")
    assert [placed.fits[p] for p in PRECISIONS] == [False, True, True]
    head, why, fits = view(GUIDE, reg, "basic").picks[("basic", "qwen3-8b")].card().split("\n\n")
    assert head == "**qwen3-8b** · 8.2 B parameters · very slow on this CPU"  # it would load at int8
    assert why == WORDS["guide.why.basic_qwen3_8b"]
    assert [part.split(" ")[0] for part in fits.split(" · ")] == ["**bf16**", "**int8**", "**NF4**"]
    assert fits.startswith("**bf16** ✗ needs ") and "**int8** ✓ fits (" in fits


def test_a_button_opens_the_tasks_tab_else_chat() -> None:
    math_picker = gr.Dropdown(choices=[("m", "qwen2.5-math-1.5b-instruct")], value="qwen2.5-math-1.5b-instruct")
    chat_picker = gr.Dropdown(choices=[("c", "qwen3-4b-thinking-2507")], value="qwen3-4b-thinking-2507")
    found = {"math": Destination("math", math_picker), "chat": Destination("chat", chat_picker)}
    reasoning = GUIDE.task("reasoning")
    assert destination(reasoning, "qwen2.5-math-1.5b-instruct", found).tab == "math"
    assert destination(reasoning, "qwen3-4b-thinking-2507", found).tab == "chat"  # math's picker lacks it
    tabs, picked = open_in("chat", "qwen3-4b-thinking-2507")
    assert isinstance(tabs, gr.Tabs) and tabs.selected == "chat"
    assert picked == gr.update(value="qwen3-4b-thinking-2507")


def test_everything_the_tab_says_has_english_words() -> None:
    reg = registry(24 * GIB)
    shown = view(GUIDE, reg, ALL)
    said = [shown.how, *(row.card() for row in shown.picks.values())]
    assert not [text for text in said if "guide." in text]  # an unknown key shows as the key itself


def test_a_model_whose_size_is_unknown_is_tried_as_the_registry_tries_it() -> None:
    models = dict(CATALOG.models)
    models["qwen3-0.6b"] = replace(CATALOG.get("qwen3-0.6b"), architecture=None, params_billion=None)
    reg = registry(1 * GIB, Catalog(MappingProxyType(models)))
    placed = place(GUIDE, reg, "qwen3-0.6b")
    assert all(placed.fits[p] for p in PRECISIONS) and placed.best is Precision.BF16
    assert all(reg.fits(placed.spec, p) for p in PRECISIONS)  # the registry plans it: out-of-memory would answer
    shown = view(GUIDE, reg, "basic").picks[("basic", "qwen3-0.6b")]
    assert shown.fits == ("? size unknown",) * 3 and shown.speed == "unknown"


@pytest.mark.parametrize("code", ["sw", "ur", "zh-CN"])
def test_the_guide_is_said_in_the_readers_language(code: str) -> None:
    own = messages(code)
    shown = view(GUIDE, registry(8 * GIB), "basic", language=code)
    assert list(shown.matrix.columns)[0] == own["guide.series"] != WORDS["guide.series"]
    card = shown.picks[("basic", "qwen3-0.6b")].card()
    assert own["guide.why.basic_qwen3_0_6b"] in card and WORDS["guide.why.basic_qwen3_0_6b"] not in card
