"""Models tab handlers without a browser, on a fake device."""

from __future__ import annotations

import pytest

from playground.access import Access
from playground.catalog import parse_catalog
from playground.memory import Precision, estimate
from playground.registry import Registry
from tabs.models import (
    details,
    format_params,
    load_model,
    loaded_copies,
    manage_controls,
    models,
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
