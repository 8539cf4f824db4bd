"""Models tab handlers without a browser, on a fake device."""

from __future__ import annotations

import inspect
import json
import shutil
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest
from gradio.helpers import special_args

from playground import i18n
from playground.access import Access
from playground.catalog import parse_catalog
from playground.memory import Precision, estimate
from playground.monitor import Monitor, Record
from playground.registry import Registry
from playground.requests import Request
from tabs.i18n import Page
from tabs.models import (
    _refresh,
    build,
    copy_line,
    details,
    format_params,
    load_model,
    loaded_copies,
    manage_controls,
    models,
    monitor_updates,
    precisions,
    sign_in,
    table,
    unload_model,
)
from tests.fakes import FakeLoader

ARCH = {"layers": 4, "attention_heads": 4, "kv_heads": 2, "head_dim": 8, "hidden_size": 32,
        "intermediate_size": 64, "vocab_size": 100, "tie_word_embeddings": True}
CATALOG = parse_catalog({"models": {
    key: {"source": f"Qwen/{key}", "tasks": ["chat"], "params_billion": size, "context_length": 1024,
          "architecture": ARCH}
    for key, size in {"a": 1.0, "b": 1.0, "big": 3.0}.items()
}})
GB = 10**9


@pytest.fixture
def registry() -> Registry:
    return Registry(CATALOG, FakeLoader(3 * GB))


OPEN = Access(token=None, local=True)  # a laptop: everyone manages models


def load(registry: Registry, key: str, precision: str) -> tuple[str, dict]:
    """Run the Load handler to its end; its last status line and the errors it keeps."""
    *_, (status, _, _, errors) = load_model(registry, OPEN, key, precision, {})
    return status, errors


def test_models_lists_every_entry_with_estimates_and_fit(registry: Registry) -> None:
    rows = {row["key"]: row for row in models(registry)}
    assert list(rows) == ["a", "b", "big"]
    a = rows["a"]
    assert a["state"] == "not loaded" and a["precision"] is None and a["loaded"] == []
    assert a["estimates"]["bf16"] == {"bytes": estimate(CATALOG.get("a"), Precision.BF16).total, "fits": True}
    assert rows["big"]["estimates"]["bf16"]["fits"] is False
    assert rows["big"]["estimates"]["nf4"]["fits"] is True


def test_loading_shows_progress_and_holds_the_buttons(registry: Registry) -> None:
    updates = list(load_model(registry, OPEN, "a", "int8", {}))
    first_status, load_button, unload_button, _ = updates[0]
    assert first_status.startswith("Loading a") and load_button.interactive is False
    assert unload_button.interactive is False
    status, load_button, _, errors = updates[-1]
    assert status.startswith("Loaded a at int8 (") and load_button.interactive is True and errors == {}


def test_two_precisions_of_one_model_are_two_rows_of_loaded_copies(registry: Registry) -> None:
    load(registry, "a", "int8")
    load(registry, "a", "nf4")
    assert [(c[0], c[1]) for c in loaded_copies(registry)] == [("a", "int8"), ("a", "nf4")]
    row = next(r for r in models(registry) if r["key"] == "a")
    assert [c["precision"] for c in row["loaded"]] == ["int8", "nf4"]
    assert table(registry)[0][-1].startswith("int8 loaded, ") and "; nf4 loaded, " in table(registry)[0][-1]
    assert unload_model(registry, OPEN, "a", "nf4") == "Unloaded a at nf4."
    assert [(c[0], c[1]) for c in loaded_copies(registry)] == [("a", "int8")]
    assert unload_model(registry, OPEN, "a") == "Unloaded a."
    assert unload_model(registry, OPEN, "a") == "a was not loaded."
    assert table(registry)[0][-1] == "not loaded"


def test_a_load_that_does_not_fit_says_why_in_the_status_and_the_row(registry: Registry) -> None:
    status, errors = load(registry, "big", "bf16")
    assert status.startswith("⚠️ big does not fit")
    assert table(registry, errors)[2][-1].startswith("failed: big does not fit")


def test_table_and_details_say_what_fits(registry: Registry) -> None:
    row = table(registry)[2]
    assert row[:2] == ["big", "3 B"] and row[2].startswith("nf4, ")  # int8 needs a bit more than 3 GB
    text = details(registry, "big")
    assert "- bf16: " in text and text.split("- bf16: ")[1].split("\n")[0].endswith("too big")
    assert text.split("- nf4: ")[1].endswith("fits")


@pytest.mark.parametrize(("billions", "text"), [(None, "?"), (0.00446, "4.46 M"), (0.6, "600 M"), (7.61, "7.61 B"),
                                                 (235.0, "235 B")])
def test_format_params(billions, text) -> None:
    assert format_params(billions) == text


@pytest.mark.parametrize(("token", "local"), [("s3cret", True), ("s3cret", False), (None, False)])
def test_visitors_cannot_load_or_unload_models(registry, token, local) -> None:
    access = Access(token, local)
    registry.load("a")
    [(status, *_)] = list(load_model(registry, access, "b", "auto", {}))
    assert status.startswith("⚠️ Loading and unloading models is") and registry.state("b") is None
    assert unload_model(registry, access, "a").startswith("⚠️ Loading and unloading") and registry.state("a")
    manager, row, sign_in_row, line = manage_controls(access)
    assert manager is False and row.visible is False and sign_in_row.visible is (token is not None)
    assert line.value.startswith("Models are shown read-only.")
    if token is None:
        assert "set one (--admin-token or PLAYGROUND_ADMIN_TOKEN)" in access.refusal()
        return
    assert sign_in(access, "wrong")[0] == "⚠️ That is not the admin token." and not access.may_manage("default")
    status, box, manager, row, *_ = sign_in(access, "s3cret")
    assert status.startswith("Signed in") and manager is True and row.visible is True and box.value == ""
    assert unload_model(registry, access, "a") == "Unloaded a." and registry.state("a") is None


def test_every_handler_of_the_tab_is_handed_its_sessions_request(registry: Registry) -> None:
    """Who may manage models and which language to speak come from the request: a handler called without one would
    treat every visitor as the same session (one operator's sign-in would let everyone load and unload)."""
    with gr.Blocks() as demo:
        build(CATALOG, registry, Page.build(demo), Access("s3cret", local=False), Monitor())
    asking = [fn for fn in demo.fns.values() if fn.fn is not None and "request" in inspect.signature(fn.fn).parameters]
    assert {fn.name for fn in asking} >= {"details", "manage_controls", "sign_in", "load_model", "unload_model",
                                          "_refresh", "monitor_updates"}
    for fn in asking:  # (how Gradio fills in a handler's special arguments before it calls it)
        handed, *_ = special_args(fn.fn, [None] * len(fn.inputs), request="the session's request")
        assert "the session's request" in handed, f"{fn.name} would be called without its request"
    assert inspect.isgeneratorfunction(next(fn.fn for fn in asking if fn.name == "load_model"))  # still streams


# --- in the reader's language ------------------------------------------------------------------------


def wrapped(table: dict, path: tuple[str, ...] = ()) -> Iterator[str]:
    """TOML lines for `table` (nested tables as dotted keys), each template inside «»."""
    for name, value in table.items():
        if isinstance(value, dict):
            yield from wrapped(value, (*path, name))
        else:
            key = ".".join(json.dumps(part) for part in (*path, name))
            yield f"{key} = {json.dumps('«' + value + '»', ensure_ascii=False)}\n"


@pytest.fixture
def swahili(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.SimpleNamespace]:
    """A stand-in for Swahili (in a locale folder of our own): each English template inside «», so each sentence
    made in it shows where it begins and ends, and an English word left in it shows too. Gives a request from a
    browser that asks for Swahili."""
    shutil.copytree(i18n.LOCALES / "en", tmp_path / "en")
    (tmp_path / "sw").mkdir()
    for path in (i18n.LOCALES / "en").glob("*.toml"):
        with path.open("rb") as file:
            (tmp_path / "sw" / path.name).write_text("".join(wrapped(tomllib.load(file))), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.messages.cache_clear()
    yield types.SimpleNamespace(session_hash="swahili-page", headers={"accept-language": "sw-KE,en;q=0.8"})
    i18n.messages.cache_clear()


def said(text: str) -> bool:
    """Whether `text` is one sentence of the stand-in Swahili."""
    return text.startswith("«") and text.endswith("»")


def test_the_grid_and_the_summary_are_said_in_the_pages_language(registry: Registry, swahili) -> None:
    status, errors = load(registry, "big", "bf16")
    summary, grid, _ = _refresh(registry, errors, swahili)
    assert said(summary) and "free of" in summary
    assert list(grid.columns) == ["«Model»", "«Size»", "«Fits here»", "«State»"]
    a, _, big = grid.values.tolist()
    assert a[0] == "a" and a[1:] == ["«1 B»", a[2], "«not loaded»"] and a[2].startswith("«bf16, ")
    assert big[3].startswith("«failed: «big does not fit")  # the error kept as words, said when shown
    assert table(registry, errors)[2][3].startswith("failed: big does not fit")  # and in English for another page
    summary, grid, _ = _refresh(registry, errors)  # no request: English
    assert list(grid.columns) == ["Model", "Size", "Fits here", "State"] and summary.startswith("**")


def test_the_models_handlers_speak_the_pages_language(registry: Registry, swahili) -> None:
    text = details(registry, "big", swahili)
    title, *estimates = text.split("\n")
    assert title == "«**big** · «3 B» parameters»« · »«1,024-token context»"
    assert all(line.startswith("- «") and line.endswith("»»") for line in estimates)  # ... · «fits»»
    assert "«too big»" in text and "«fits»" in text
    updates = list(load_model(registry, OPEN, "a", "int8", {}, swahili))
    assert all(said(status) for status, *_ in updates)
    assert updates[0][0].startswith("«Loading a") and updates[-1][0].startswith("«Loaded a at int8 (")
    copy = loaded_copies(registry)[0]
    assert copy_line(copy, "sw") == "**a**« · »int8« · »" + copy_line(copy).split(" · ")[2] + "« · »«idle»"
    assert unload_model(registry, OPEN, "a", "int8", swahili) == "«Unloaded a at int8.»"
    assert unload_model(registry, OPEN, "a", None, swahili) == "«a was not loaded.»"
    assert precisions(swahili).choices[0] == ("«auto»", "auto")
    access = Access("s3cret", local=False)
    [(refused, *_)] = list(load_model(registry, access, "a", "auto", {}, swahili))
    assert refused == "⚠️ " + access.refusal("sw") and said(access.refusal("sw"))
    assert sign_in(access, "wrong", swahili)[0] == "⚠️ «That is not the admin token.»"
    *_, line = manage_controls(access, swahili)
    assert line.value == f"«Models are shown read-only. {access.refusal('sw')}»"
    assert sign_in(access, "s3cret", swahili)[0] == "«Signed in: you can load and unload models.»"


def test_the_monitor_speaks_the_pages_language(swahili) -> None:
    monitor = Monitor(memory=lambda: 2**30)
    summary, *plots = monitor_updates(monitor, swahili)
    assert summary.startswith("«No requests in the last 5 minutes") and len(plots) == 4
    assert [plot.title for plot in plots] == ["«Tokens per second (all requests)»", "«Time to first token (median)»",
                                               "«Requests waiting in the queue»", "«Memory used on the model device»"]
    assert [plot.y_title for plot in plots] == ["«tok/s»", "«seconds»", "«requests»", "«GiB»"]
    assert {plot.x_title for plot in plots} == {"«time»"}
    monitor.started_request()
    monitor.finished(Record(Request("a", [{"role": "user", "content": "Hi"}]), outcome="stopped"))
    summary, *_ = monitor_updates(monitor, swahili)
    assert summary.startswith("«Last 5 minutes: 1 requests («1 stopped»)»« · »«no first tokens»")
    english, *plots = monitor_updates(monitor)
    assert english.startswith("Last 5 minutes: 1 requests (1 stopped) · no first tokens · errors 0%")
    assert plots[0].title == "Tokens per second (all requests)"
