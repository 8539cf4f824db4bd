"""Models tab: the catalogue with memory estimates, what is loaded, and load/unload controls.

Every figure comes from the registry (state, measured footprint, idle time) and from
`playground.memory` (estimates at each precision against what is free now); this module
only lays them out. `models()` is also the public `/models` API endpoint.

    python -m tabs.models   # this tab alone, for development
"""

from __future__ import annotations

import functools
from typing import Any

import gradio as gr

from playground.catalog import Catalog
from playground.errors import PlaygroundError
from playground.memory import DEFAULT_CONTEXT_TOKENS, LADDER, Precision, format_bytes
from playground.registry import ModelState, Registry

TITLE = "Models"
AUTO = "auto"
REFRESH_S = 2.0


def models(registry: Registry) -> list[dict[str, Any]]:
    """Every catalogue model: key, state, precision, footprint, and estimates per precision."""
    states: dict[str, ModelState] = {}
    for state in registry.snapshot():
        states.setdefault(state.key, state)
    free = registry.memory().free
    rows = []
    for spec in registry.catalog:
        state = states.get(spec.key)
        estimates = {}
        for precision in dict.fromkeys([*spec.ladder, *LADDER]):
            est = registry.estimate(spec, precision)  # None: a local folder whose size could not be read
            need = est.total if est is not None else None
            estimates[str(precision)] = {"bytes": need, "fits": None if need is None else need <= free}
        rows.append({
            "key": spec.key,
            "source": spec.source,
            "tasks": sorted(str(t) for t in spec.tasks),
            "params_billion": spec.params_billion,
            "state": state.status if state else "not loaded",
            "precision": str(state.precision) if state else None,
            "footprint_bytes": state.footprint if state else None,
            "in_use": state.in_use if state else 0,
            "idle_s": round(state.idle_s, 1) if state and state.idle_s is not None else None,
            "loading_s": round(state.loading_s, 1) if state and state.loading_s is not None else None,
            "backend": state.backend if state else None,
            "kv_tokens": state.kv_tokens if state else None,
            "estimates": estimates,
        })
    return rows


def device_summary(registry: Registry) -> str:
    memory = registry.memory()
    used = memory.total - memory.free
    device = memory.name if memory.kind == "cpu" else f"{memory.name} (GPU)"
    return (
        f"**{device}**: {format_bytes(memory.free)} free of {format_bytes(memory.total)} "
        f"({format_bytes(used)} in use). Estimates are weights plus the KV cache for the model's "
        f"context window (at most {DEFAULT_CONTEXT_TOKENS // 1024}k tokens) plus 10% overhead; "
        "“fits” compares them with the memory free now."
    )


def table(registry: Registry) -> list[list[Any]]:
    """Rows for the Dataframe: one line per model, estimates marked with whether they fit."""
    rows = []
    for row in models(registry):
        cells = []
        for precision in LADDER:
            est = row["estimates"][str(precision)]
            verdict = "fits" if est["fits"] else "too big"
            cells.append("?" if est["bytes"] is None else f"{format_bytes(est['bytes'])} · {verdict}")
        rows.append([
            row["key"],
            format_params(row["params_billion"]),
            ", ".join(row["tasks"]),
            *cells,
            state_text(row),
        ])
    return rows


def format_params(billions: float | None) -> str:
    if not billions:
        return "?"
    return f"{billions:.3g} B" if billions >= 1 else f"{billions * 1000:.3g} M"


def state_text(row: dict[str, Any]) -> str:
    if row["state"] == "loading":
        return f"loading {row['precision']}… {row['loading_s']:.0f} s"
    if row["state"] == "ready":
        busy = f"in use ({row['in_use']})" if row["in_use"] else f"idle {row['idle_s']:.0f} s"
        return f"loaded {row['precision']}, {format_bytes(row['footprint_bytes'])}, {row['backend']}, {busy}"
    return "not loaded"


def load_model(registry: Registry, key: str, precision: str) -> str:
    """Load `key` at `precision` ("auto" picks the best that fits) and say where it landed."""
    try:
        state = registry.load(key, None if precision == AUTO else Precision(precision))
    except PlaygroundError as exc:
        raise gr.Error(str(exc)) from exc
    return f"Loaded {key} at {state.precision} ({format_bytes(state.footprint or 0)})."


def unload_model(registry: Registry, key: str) -> str:
    try:
        unloaded = registry.unload(key)
    except PlaygroundError as exc:
        raise gr.Error(str(exc)) from exc
    return f"Unloaded {key}." if unloaded else f"{key} was not loaded."


HEADERS = ["Model", "Params", "Tasks", *(f"{p} est." for p in LADDER), "State"]


def build(catalog: Catalog, registry: Registry) -> None:
    summary = gr.Markdown(device_summary(registry))
    grid = gr.Dataframe(value=table(registry), headers=HEADERS, interactive=False, elem_id="models-table", wrap=True,
                        column_widths=["20%", "7%", "13%", "13%", "13%", "13%", "21%"])
    with gr.Row():
        key = gr.Dropdown(choices=[spec.key for spec in catalog], value=next(iter(catalog)).key, label="Model")
        precision = gr.Radio([AUTO, *(str(p) for p in LADDER)], value=AUTO, label="Precision")
    with gr.Row():
        load = gr.Button("Load", variant="primary")
        unload = gr.Button("Unload")
    status = gr.Markdown()
    refresh = functools.partial(_refresh, registry)
    load.click(functools.partial(load_model, registry), [key, precision], status, api_visibility="private").then(
        refresh, None, [summary, grid], api_visibility="private"
    )
    unload.click(functools.partial(unload_model, registry), [key], status, api_visibility="private").then(
        refresh, None, [summary, grid], api_visibility="private"
    )
    gr.Timer(REFRESH_S).tick(refresh, None, [summary, grid], api_visibility="private", show_progress="hidden")

    def list_models() -> list[dict[str, Any]]:
        return models(registry)

    list_models.__doc__ = models.__doc__
    gr.api(list_models, api_name="models")


def _refresh(registry: Registry) -> tuple[str, list[list[Any]]]:
    return device_summary(registry), table(registry)


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as demo:
        build(services.catalog, services.registry)
    demo.launch()
