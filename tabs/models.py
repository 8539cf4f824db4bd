"""Models tab: what is loaded (each copy with its own Unload), the catalogue with what fits here, and Load.

The top lists every loaded copy of a model (a model can be resident at two precisions) with its
size, backend and whether a request is using it, each with an Unload button. Below, the
catalogue: one row per model with its size, the best precision that fits on this machine now
and its state (a model on another server shows as "remote", with whether its server answers);
picking a row (or a name) shows that model's estimate at each precision, and Load
loads it at the chosen precision with its progress shown in place, the buttons held while it
loads. Errors stay on the page, in the status line and in the model's row.

Managing models is the operator's (`playground.access`): where an admin token is set, Load,
Unload and the precision appear once this browser session has signed in with it, and the
handlers refuse anyone else, however they are called; on a network without a token they are
off. At the bottom, the Monitor: the last hour of tok/s, time to first token, queue depth and
memory (`playground.monitor`), with the rolling figures `/health` also gives.

Every figure comes from the registry (state, measured footprint, idle time, free memory) and
its estimates; this module only lays them out. `models()` is also the public `/models` API
endpoint.

    python -m tabs.models   # this tab alone, for development
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import gradio as gr
import pandas as pd

from playground.access import Access
from playground.catalog import Catalog, ModelSpec
from playground.errors import PlaygroundError
from playground.i18n import say
from playground.memory import DEFAULT_CONTEXT_TOKENS, LADDER, Precision, format_bytes
from playground.monitor import SAMPLE_S, Monitor
from playground.registry import Background, ModelState, Registry
from tabs.i18n import Page
from tabs.reply import STAGES, session_of

TITLE = "Models"
AUTO = "auto"
REFRESH_S = 2.0
PROGRESS_S = 0.5
HEADERS = ["Model", "Size", "Fits here", "State"]


def models(registry: Registry) -> list[dict[str, Any]]:
    """Every catalogue model: key, state, precision, footprint, its loaded copies, and estimates per precision."""
    copies: dict[str, list[ModelState]] = {}
    for state in registry.snapshot():
        copies.setdefault(state.key, []).append(state)
    room = registry.room()
    rows = []
    for spec in registry.catalog:
        mine = copies.get(spec.key, [])
        state = mine[0] if mine else None
        estimates = {}
        for precision in dict.fromkeys([*spec.ladder, *LADDER]) if spec.remote is None else ():
            est = registry.estimate(spec, precision)  # None: a local folder whose size could not be read
            need = est.total if est is not None else None
            estimates[str(precision)] = {"bytes": need, "fits": None if need is None else need <= room}
        rows.append({
            "key": spec.key,
            "source": spec.source,
            "remote": remote_row(registry, spec),
            "family": spec.family,
            "tasks": sorted(str(t) for t in spec.tasks),
            "params_billion": spec.params_billion,
            "context_length": spec.context_length,
            "state": state.status if state else "not loaded",
            "precision": str(state.precision) if state else None,
            "footprint_bytes": state.footprint if state else None,
            "in_use": state.in_use if state else 0,
            "idle_s": round(state.idle_s, 1) if state and state.idle_s is not None else None,
            "loading_s": round(state.loading_s, 1) if state and state.loading_s is not None else None,
            "backend": state.backend if state else None,
            "kv_tokens": state.kv_tokens if state else None,
            "loaded": [copy_row(s) for s in mine],
            "unavailable": spec.unavailable,
            "estimates": estimates,
        })
    return rows


def remote_row(registry: Registry, spec: ModelSpec) -> dict[str, Any] | None:
    """Where a remote model runs and whether its server answered the last check (None for a local model)."""
    if spec.remote is None or registry.remotes is None:
        return None
    reach = registry.remotes.reachability(spec)
    return {"base_url": spec.remote.base_url, "model": spec.remote.model, "answers": reach.answers,
            "detail": reach.detail}


def copy_row(state: ModelState) -> dict[str, Any]:
    return {"precision": str(state.precision), "status": state.status, "footprint_bytes": state.footprint,
            "in_use": state.in_use, "idle_s": None if state.idle_s is None else round(state.idle_s, 1),
            "backend": state.backend, "kv_tokens": state.kv_tokens}


def device_summary(registry: Registry) -> str:
    memory = registry.memory()
    used = memory.total - memory.free
    device = memory.name if memory.kind == "cpu" else f"{memory.name} (GPU)"
    return (
        f"**{device}**: {format_bytes(memory.free)} free of {format_bytes(memory.total)} "
        f"({format_bytes(used)} in use). A model fits if its weights, the KV cache for one request's context "
        f"window (at most {DEFAULT_CONTEXT_TOKENS // 1024}k tokens) and 10% overhead do, in the memory free now "
        "plus what idle models would give back."
    )


def format_params(billions: float | None) -> str:
    if not billions:
        return "?"
    return f"{billions:.3g} B" if billions >= 1 else f"{billions * 1000:.3g} M"


def copy_text(copy: dict[str, Any]) -> str:
    if copy["status"] == "loading":
        return f"{copy['precision']} loading…"
    busy = f"in use ({copy['in_use']})" if copy["in_use"] else f"idle {copy['idle_s']:.0f} s"
    return f"{copy['precision']} loaded, {format_bytes(copy['footprint_bytes'] or 0)}, {busy}"


def state_text(row: dict[str, Any], error: str | None = None) -> str:
    if row["remote"]:
        busy = f", in use ({row['in_use']})" if row["in_use"] else ""
        return f"remote at {row['remote']['base_url']}: {row['remote']['detail']}{busy}"
    if row["unavailable"]:
        return f"unavailable: {row['unavailable']}"
    if row["loaded"]:
        return "; ".join(copy_text(c) for c in row["loaded"])
    return f"failed: {error}" if error else "not loaded"


def fits_text(row: dict[str, Any]) -> str:
    if row["remote"]:
        return "remote: runs on its server"
    for precision, est in row["estimates"].items():
        if est["fits"]:
            return f"{precision}, {format_bytes(est['bytes'])}"
        if est["bytes"] is None:
            return "? (size unknown)"
    lowest = list(row["estimates"].values())[-1]
    return f"no: {format_bytes(lowest['bytes'])} even at nf4"


def table(registry: Registry, errors: dict[str, str] | None = None) -> list[list[Any]]:
    """Rows for the Dataframe: one line per model."""
    errors = errors or {}
    return [[row["key"], format_params(row["params_billion"]), fits_text(row), state_text(row, errors.get(row["key"]))]
            for row in models(registry)]


def details(registry: Registry, key: str) -> str:
    """The picked model's estimate at each precision, against the room here."""
    spec = registry.catalog.get(key)
    room = registry.room()
    lines = [f"**{key}** · {format_params(spec.params_billion)} parameters"
             + (f" · {spec.context_length:,}-token context" if spec.context_length else "")]
    remote = remote_row(registry, spec)
    if remote is not None:
        return "\n".join([*lines, f"- runs on the server at {remote['base_url']} as {remote['model']}: nothing "
                                  "to load or unload here, no memory used here",
                           f"- the server {remote['detail']}"])
    for precision in dict.fromkeys([*spec.ladder, *LADDER]):
        est = registry.estimate(spec, precision)
        if est is None:
            lines.append(f"- {precision}: size unknown (a local folder without safetensors headers)")
            continue
        verdict = "fits" if est.total <= room else "too big"
        lines.append(f"- {precision}: {format_bytes(est.total)} (weights {format_bytes(est.weights)}, KV cache "
                     f"{format_bytes(est.kv_cache)}) · {verdict}")
    return "\n".join(lines)


def progress_text(key: str, state: ModelState | None, seconds: float) -> str:
    if state is None:
        return f"Loading {key}… {seconds:.0f} s"
    stage = state.stage or "starting"
    stage = say(None, STAGES[stage]) if stage in STAGES else stage
    share = f" {state.progress:.0%}" if state.progress is not None else "…"
    return f"Loading {key} at {state.precision} (about {format_bytes(state.estimate)}): {stage}{share} {seconds:.0f} s"


def load_model(registry: Registry, access: Access, key: str, precision: str, errors: dict[str, str],
               request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Load `key` at `precision` ("auto": the best that fits), showing progress; buttons held meanwhile."""
    if not access.may_manage(session_of(request)):
        yield f"⚠️ {access.refusal()}", gr.skip(), gr.skip(), errors
        return
    if registry.catalog.get(key).remote is not None:
        yield f"{key} runs on another server: there is nothing to load here.", gr.skip(), gr.skip(), errors
        return
    held = gr.Button(interactive=False)
    errors = {k: v for k, v in errors.items() if k != key}
    loading = Background(registry, key, None if precision == AUTO else Precision(precision),
                         lambda: registry.load(key, None if precision == AUTO else Precision(precision)))
    watch = loading.watch(PROGRESS_S)
    seconds = 0.0
    try:
        while True:
            yield progress_text(key, next(watch), seconds), held, held, errors
            seconds += PROGRESS_S
    except StopIteration as finished:
        state = finished.value
        message = f"Loaded {key} at {state.precision} ({format_bytes(state.footprint or 0)})."
    except PlaygroundError as exc:
        message = f"⚠️ {exc}"
        errors = {**errors, key: str(exc)}
    free = gr.Button(interactive=True)
    yield message, free, free, errors


def unload_model(registry: Registry, access: Access, key: str, precision: str | None = None,
                 request: gr.Request | None = None) -> str:
    if not access.may_manage(session_of(request)):
        return f"⚠️ {access.refusal()}"
    try:
        unloaded = registry.unload(key, None if precision in (None, AUTO) else Precision(precision))
    except PlaygroundError as exc:
        return f"⚠️ {exc}"
    where = f" at {precision}" if precision not in (None, AUTO) else ""
    return f"Unloaded {key}{where}." if unloaded else f"{key}{where} was not loaded."


def loaded_copies(registry: Registry) -> list[list[Any]]:
    """What the loaded-copies list is drawn from: changes only when a copy comes, goes or changes state."""
    return [[s.key, str(s.precision), s.status, s.in_use > 0, s.footprint, s.backend] for s in registry.snapshot()]


def sign_in(access: Access, token: str, request: gr.Request | None = None) -> tuple[Any, ...]:
    """The admin token typed in: this session may manage models from now on, if it is the right one."""
    if not access.sign_in(session_of(request), token or ""):
        return ("⚠️ That is not the admin token.", gr.Textbox(value=""), *manage_controls(access, request))
    return ("Signed in: you can load and unload models.", gr.Textbox(value=""), *manage_controls(access, request))


def manage_controls(access: Access, request: gr.Request | None = None) -> tuple[Any, ...]:
    """Whether this session manages models: (the flag the loaded list is drawn with, the controls row, the
    sign-in row, the line said to visitors)."""
    manager = access.may_manage(session_of(request))
    visitor_line = "" if manager else f"Models are shown read-only. {access.refusal()}"
    return (manager, gr.Row(visible=manager), gr.Row(visible=not manager and access.can_sign_in),
            gr.Markdown(visitor_line, visible=not manager))


# --- the monitor --------------------------------------------------------------------------------

PLOTS = {  # column: (title, y axis)
    "tokens_per_s": ("Tokens per second (all requests)", "tok/s"),
    "ttft_s": ("Time to first token (median)", "seconds"),
    "queue": ("Requests waiting in the queue", "requests"),
    "memory_gib": ("Memory used on the model device", "GiB"),
}


def monitor_frame(monitor: Monitor) -> pd.DataFrame:
    """The last hour of samples, one row each; a quiet interval has 0 tok/s and no time to first token."""
    rows = [{"time": datetime.fromtimestamp(s.at), "tokens_per_s": s.tokens_per_s or 0.0, "ttft_s": s.ttft_s,
             "queue": s.queue, "memory_gib": round(s.memory_used / 2**30, 3)} for s in monitor.samples()]
    return pd.DataFrame(rows, columns=["time", *PLOTS])


def monitor_summary(monitor: Monitor) -> str:
    f = monitor.figures()
    if not f["requests"]:
        return (f"No requests in the last {f['window_s'] / 60:.0f} minutes · {monitor.running} running · "
                f"a sample every {SAMPLE_S:.0f} s")
    outcomes = ", ".join(f"{n} {o}" for o, n in f["outcomes"].items() if n)
    ttft = f"time to first token p50 {f['ttft_p50_s']} s, p95 {f['ttft_p95_s']} s" if f["ttft_p50_s"] is not None \
        else "no first tokens"
    speed = f" · {f['tokens_per_s_p50']} tok/s (median request)" if f["tokens_per_s_p50"] is not None else ""
    return (f"Last {f['window_s'] / 60:.0f} minutes: {f['requests']} requests ({outcomes}) · {ttft}{speed} · "
            f"errors {f['error_rate']:.0%} · {monitor.running} running now")


def monitor_updates(monitor: Monitor) -> tuple[Any, ...]:
    frame = monitor_frame(monitor)
    return (monitor_summary(monitor), *(frame,) * len(PLOTS))


def build(catalog: Catalog, registry: Registry, page: Page, access: Access, monitor: Monitor) -> None:
    errors = gr.State({})
    manager = gr.State(access.open)
    summary = gr.Markdown(device_summary(registry), elem_id="device-summary")
    copies = gr.JSON(loaded_copies(registry), visible=False)
    status = gr.Markdown(elem_id="models-status")
    visitor = gr.Markdown(visible=False, elem_id="models-visitor")
    with gr.Row(visible=False, elem_id="models-sign-in") as sign_in_row:
        token = gr.Textbox(label="Admin token", type="password", scale=3, elem_id="models-token")
        sign_in_button = gr.Button("Sign in", scale=1, elem_id="models-sign-in-button")

    @gr.render(inputs=[copies, manager])  # drawn on load and again when the loaded copies change
    def draw_copies(current: list[list[Any]], manages: bool) -> None:
        gr.Markdown("### Loaded" if current else "### Loaded\nNothing is loaded: a model loads on its first message.")
        for key, precision, state, in_use, footprint, backend in current:
            with gr.Row(equal_height=True, elem_classes=["loaded-copy"]):
                busy = "loading…" if state == "loading" else ("in use" if in_use else "idle")
                size = f"{format_bytes(footprint)}, " if footprint else ""
                gr.Markdown(f"**{key}** · {precision} · {size}{backend or ''} · {busy}", elem_classes=["copy-text"])
                if not manages:
                    continue
                unload = gr.Button(f"Unload {key} ({precision})", size="sm", scale=0, min_width=160,
                                   interactive=state != "loading", elem_classes=["unload-copy"])
                unload.click(functools.partial(unload_model, registry, access, key, precision), None, status,
                             api_visibility="private").then(
                    functools.partial(loaded_copies, registry), None, copies, api_visibility="private")

    gr.Markdown("### Catalogue")
    grid = gr.Dataframe(value=table(registry), headers=HEADERS, interactive=False, elem_id="models-table", wrap=True,
                        column_widths=["32%", "16%", "24%", "28%"], max_height=520)
    first = next(iter(catalog))
    key = gr.Dropdown(choices=[spec.key for spec in catalog], value=first.key, label="Model", filterable=True,
                      elem_id="models-key")
    model_details = gr.Markdown(details(registry, first.key), elem_id="models-details")
    with gr.Row(equal_height=True, visible=access.open, elem_id="models-manage") as manage_row:
        precision = gr.Radio([AUTO, *(str(p) for p in Precision)], value=AUTO, label="Precision", scale=2,
                             elem_id="models-precision")
        load = gr.Button("Load", variant="primary", elem_id="models-load", scale=1)
        unload = gr.Button("Unload", elem_id="models-unload", scale=1)

    refresh = functools.partial(_refresh, registry)
    outputs = [summary, grid, copies]
    key.change(functools.partial(details, registry), key, model_details, api_visibility="private", queue=False)
    grid.select(pick_row, None, key, api_visibility="private", queue=False)
    access_outputs = [manager, manage_row, sign_in_row, visitor]
    page.load(functools.partial(manage_controls, access), None, access_outputs, api_visibility="private",
              queue=False)
    gr.on([sign_in_button.click, token.submit], functools.partial(sign_in, access), token,
          [status, token, *access_outputs], api_visibility="private", queue=False)
    load.click(functools.partial(load_model, registry, access), [key, precision, errors],
               [status, load, unload, errors],
               api_visibility="private", concurrency_limit=None).then(
        refresh, errors, outputs, api_visibility="private")
    unload.click(functools.partial(unload_model, registry, access), [key, precision], status,
                 api_visibility="private").then(refresh, errors, outputs, api_visibility="private")
    gr.Timer(REFRESH_S).tick(refresh, errors, outputs, api_visibility="private", show_progress="hidden")
    # Each page that opens shows the registry as it is then, not as it was when the app started.
    page.load(refresh, errors, outputs, api_visibility="private", queue=False)

    with gr.Accordion("Monitor", open=False, elem_id="monitor"):
        gr.Markdown(f"The last hour, a sample every {SAMPLE_S:.0f} s. `GET /health` gives the same figures as JSON.")
        summary_line = gr.Markdown(monitor_summary(monitor), elem_id="monitor-summary")
        plots = []
        with gr.Row():
            for column, (title, axis) in list(PLOTS.items())[:2]:
                plots.append(gr.LinePlot(monitor_frame(monitor), x="time", y=column, title=title, y_title=axis,
                                         x_title="", height=220, elem_classes=["monitor-plot"]))
        with gr.Row():
            for column, (title, axis) in list(PLOTS.items())[2:]:
                plots.append(gr.LinePlot(monitor_frame(monitor), x="time", y=column, title=title, y_title=axis,
                                         x_title="", height=220, elem_classes=["monitor-plot"]))
    gr.Timer(SAMPLE_S).tick(functools.partial(monitor_updates, monitor), None, [summary_line, *plots],
                            api_visibility="private", show_progress="hidden")
    page.load(functools.partial(monitor_updates, monitor), None, [summary_line, *plots], api_visibility="private",
              queue=False)

    def list_models() -> list[dict[str, Any]]:
        return models(registry)

    list_models.__doc__ = models.__doc__
    gr.api(list_models, api_name="models")


def pick_row(data: gr.SelectData) -> Any:
    """A click anywhere in a model's row picks that model."""
    row = data.row_value if data.row_value else None
    return row[0] if row else gr.skip()


def _refresh(registry: Registry, errors: dict[str, str]) -> tuple[str, list[list[Any]], list[list[Any]]]:
    return device_summary(registry), table(registry, errors), loaded_copies(registry)


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as app:
        page = Page.build(app)
        build(services.catalog, services.registry, page, services.access, services.engine.monitor)
    app.launch(i18n=translations())
