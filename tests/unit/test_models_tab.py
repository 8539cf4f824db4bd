"""Models tab handlers without a browser, on the fake loader of the registry tests."""

from __future__ import annotations

import gradio as gr
import pytest
from test_registry import CATALOG, GB, FakeLoader

from playground.memory import Precision, estimate
from playground.registry import Registry
from tabs.models import format_params, load_model, models, table, unload_model


@pytest.fixture
def registry() -> Registry:
    return Registry(CATALOG, FakeLoader(3 * GB))


def test_models_lists_every_entry_with_estimates_and_fit(registry: Registry) -> None:
    rows = {row["key"]: row for row in models(registry)}
    assert list(rows) == ["a", "b", "c", "big"]
    a = rows["a"]
    assert a["state"] == "not loaded" and a["precision"] is None and a["footprint_bytes"] is None
    assert a["estimates"]["bf16"] == {"bytes": estimate(CATALOG.get("a"), Precision.BF16).total, "fits": True}
    assert rows["big"]["estimates"]["bf16"]["fits"] is False
    assert rows["big"]["estimates"]["nf4"]["fits"] is True


def test_load_and_unload_change_the_state(registry: Registry) -> None:
    assert load_model(registry, "a", "int8").startswith("Loaded a at int8 (")
    row = next(r for r in models(registry) if r["key"] == "a")
    assert (row["state"], row["precision"], row["in_use"]) == ("ready", "int8", 0)
    assert row["footprint_bytes"] == estimate(CATALOG.get("a"), Precision.INT8).weights
    assert table(registry)[0][-1].startswith("loaded int8, ")
    assert unload_model(registry, "a") == "Unloaded a."
    assert unload_model(registry, "a") == "a was not loaded."
    assert table(registry)[0][-1] == "not loaded"


def test_a_load_that_does_not_fit_is_reported(registry: Registry) -> None:
    with pytest.raises(gr.Error, match="big does not fit"):
        load_model(registry, "big", "bf16")


def test_table_marks_what_fits(registry: Registry) -> None:
    row = table(registry)[3]
    assert row[0] == "big" and row[1] == "3 B"
    assert row[3].endswith("· too big") and row[5].endswith("· fits")


@pytest.mark.parametrize(("billions", "text"), [(None, "?"), (0.00446, "4.46 M"), (0.6, "600 M"), (7.61, "7.61 B"),
                                                 (235.0, "235 B")])
def test_format_params(billions, text) -> None:
    assert format_params(billions) == text
