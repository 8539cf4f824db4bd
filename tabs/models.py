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
its estimates; this module only lays them out, in the reader's language: fixed words are
`t("models.…")` labels, and what is made here (the summary, the grid with its column headers,
states, progress, the Monitor's lines and plot titles) is `say(language, "models.…")` with the
language of the session that asked (`tabs.i18n`). `models()` is also the public `/models` API
endpoint; its rows are data, in English.

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
from playground.i18n import DEFAULT, Said, say
from playground.memory import DEFAULT_CONTEXT_TOKENS, LADDER, Precision, format_bytes
from playground.monitor import OUTCOMES, SAMPLE_S, Monitor
from playground.registry import Background, ModelState, Registry
from tabs.i18n import Page, language_of, t, words
from tabs.reply import STAGES, bound, session_of

TITLE = "models.title"  # a message key
AUTO = "auto"
REFRESH_S = 2.0
PROGRESS_S = 0.5
COLUMNS = ("models.column_model", "models.column_size", "models.column_fits", "models.column_state")
WARNING = "⚠️ "


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


def device_summary(registry: Registry, language: str | None = None) -> str:
    memory = registry.memory()
    device = memory.name if memory.kind == "cpu" else say(language, "models.gpu", name=memory.name)
    return say(language, "models.device_summary", device=device, free=format_bytes(memory.free),
               total=format_bytes(memory.total), used=format_bytes(memory.total - memory.free),
               context_k=DEFAULT_CONTEXT_TOKENS // 1024)


def format_params(billions: float | None, language: str | None = None) -> str:
    if not billions:
        return say(language, "models.unknown_size")
    if billions >= 1:
        return say(language, "models.billions", size=billions)
    return say(language, "models.millions", size=billions * 1000)


def copy_text(copy: dict[str, Any], language: str | None = None) -> str:
    if copy["status"] == "loading":
        return say(language, "models.state_loading", precision=copy["precision"])
    busy = (Said("models.state_in_use", {"count": copy["in_use"]}) if copy["in_use"]
            else Said("models.state_idle", {"seconds": copy["idle_s"] or 0}))
    return say(language, "models.state_loaded", precision=copy["precision"],
               size=format_bytes(copy["footprint_bytes"] or 0), busy=busy)


def state_text(row: dict[str, Any], error: Said | str | None = None, language: str | None = None) -> str:
    """A model's State cell: where it runs, why it cannot, its loaded copies, or why its last load failed."""
    if row["remote"]:
        remote = row["remote"]
        if row["in_use"]:
            return say(language, "models.state_remote_busy", url=remote["base_url"], detail=remote["detail"],
                       count=row["in_use"])
        return say(language, "models.state_remote", url=remote["base_url"], detail=remote["detail"])
    if row["unavailable"]:
        return say(language, "models.state_unavailable", reason=row["unavailable"])
    if row["loaded"]:
        return say(language, "models.copies_separator").join(copy_text(c, language) for c in row["loaded"])
    if error:
        return say(language, "models.state_failed", error=error)
    return say(language, "models.state_not_loaded")


def fits_text(row: dict[str, Any], language: str | None = None) -> str:
    if row["remote"]:
        return say(language, "models.fits_remote")
    for precision, est in row["estimates"].items():
        if est["fits"]:
            return say(language, "models.fits_at", precision=precision, size=format_bytes(est["bytes"]))
        if est["bytes"] is None:
            return say(language, "models.fits_unknown")
    lowest, est = list(row["estimates"].items())[-1]
    return say(language, "models.fits_none", size=format_bytes(est["bytes"]), precision=lowest)


def headers(language: str | None = None) -> list[str]:
    """The grid's column headers."""
    return [say(language, key) for key in COLUMNS]


def table(registry: Registry, errors: dict[str, Said | str] | None = None,
          language: str | None = None) -> list[list[Any]]:
    """Rows for the Dataframe: one line per model."""
    errors = errors or {}
    return [[row["key"], format_params(row["params_billion"], language), fits_text(row, language),
             state_text(row, errors.get(row["key"]), language)]
            for row in models(registry)]


def details(registry: Registry, key: str, request: gr.Request | None = None) -> str:
    """The picked model's estimate at each precision, against the room here."""
    language = language_of(request)

    def said(name: str, **params: Any) -> str:
        return say(language, f"models.{name}", **params)

    spec = registry.catalog.get(key)
    room = registry.room()
    title = [said("details_title", key=key, size=format_params(spec.params_billion, language))]
    if spec.context_length:
        title.append(said("details_context", tokens=spec.context_length))
    lines = [said("separator").join(title)]
    remote = remote_row(registry, spec)
    if remote is not None:
        return "\n".join([*lines, "- " + said("details_remote", url=remote["base_url"], model=remote["model"]),
                          "- " + said("details_server", detail=remote["detail"])])
    for precision in dict.fromkeys([*spec.ladder, *LADDER]):
        est = registry.estimate(spec, precision)
        if est is None:
            lines.append("- " + said("details_unknown", precision=precision))
            continue
        verdict = Said("models.verdict_fits" if est.total <= room else "models.verdict_too_big")
        lines.append("- " + said("details_estimate", precision=precision, total=format_bytes(est.total),
                                 weights=format_bytes(est.weights), kv_cache=format_bytes(est.kv_cache),
                                 verdict=verdict))
    return "\n".join(lines)


def progress_text(key: str, state: ModelState | None, seconds: float, language: str | None = None) -> str:
    if state is None:
        return say(language, "models.loading_start", key=key, seconds=seconds)
    stage = state.stage or "starting"
    stage = say(language, STAGES[stage]) if stage in STAGES else stage
    stage = (say(language, "reply.stage_progress", stage=stage, progress=state.progress)
             if state.progress is not None else say(language, "reply.stage_waiting", stage=stage))
    return say(language, "models.loading", key=key, precision=state.precision, size=format_bytes(state.estimate),
               stage=stage, seconds=seconds)


def load_model(registry: Registry, access: Access, key: str, precision: str, errors: dict[str, Said | str],
               request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
    """Load `key` at `precision` ("auto": the best that fits), showing progress; buttons held meanwhile."""
    language = language_of(request)
    if not access.may_manage(session_of(request)):
        yield WARNING + access.refusal(language), gr.skip(), gr.skip(), errors
        return
    if registry.catalog.get(key).remote is not None:
        yield say(language, "models.nothing_to_load", key=key), gr.skip(), gr.skip(), errors
        return
    held = gr.Button(interactive=False)
    errors = {k: v for k, v in errors.items() if k != key}
    loading = Background(registry, key, None if precision == AUTO else Precision(precision),
                         lambda: registry.load(key, None if precision == AUTO else Precision(precision)))
    watch = loading.watch(PROGRESS_S)
    seconds = 0.0
    try:
        while True:
            yield progress_text(key, next(watch), seconds, language), held, held, errors
            seconds += PROGRESS_S
    except StopIteration as finished:
        state = finished.value
        message = say(language, "models.loaded", key=key, precision=state.precision,
                      size=format_bytes(state.footprint or 0))
    except PlaygroundError as exc:
        message = WARNING + exc.text(language)
        errors = {**errors, key: exc.said}  # said again in the grid, in whichever language asks
    free = gr.Button(interactive=True)
    yield message, free, free, errors


def unload_model(registry: Registry, access: Access, key: str, precision: str | None = None,
                 request: gr.Request | None = None) -> str:
    language = language_of(request)
    if not access.may_manage(session_of(request)):
        return WARNING + access.refusal(language)
    at = precision not in (None, AUTO)
    try:
        unloaded = registry.unload(key, Precision(precision) if at else None)
    except PlaygroundError as exc:
        return WARNING + exc.text(language)
    name = ("models.unloaded" if unloaded else "models.not_loaded") + ("_at" if at else "")
    return say(language, name, key=key, precision=precision)


def loaded_copies(registry: Registry) -> list[list[Any]]:
    """What the loaded-copies list is drawn from: changes only when a copy comes, goes or changes state."""
    return [[s.key, str(s.precision), s.status, s.in_use > 0, s.footprint, s.backend] for s in registry.snapshot()]


def copy_line(copy: list[Any], language: str | None = None) -> str:
    """One loaded copy, as the loaded list shows it: "**qwen3-0.6b** · bf16 · 1.4 GB · serial · idle"."""
    key, precision, state, in_use, footprint, backend = copy
    busy = "models.copy_loading" if state == "loading" else ("models.copy_in_use" if in_use else "models.copy_idle")
    parts = [f"**{key}**", precision, format_bytes(footprint) if footprint else "", backend or "",
             say(language, busy)]
    return say(language, "models.separator").join(part for part in parts if part)


def sign_in(access: Access, token: str, request: gr.Request | None = None) -> tuple[Any, ...]:
    """The admin token typed in: this session may manage models from now on, if it is the right one."""
    language = language_of(request)
    if not access.sign_in(session_of(request), token or ""):
        said = WARNING + say(language, "models.wrong_token")
    else:
        said = say(language, "models.signed_in")
    return (said, gr.Textbox(value=""), *manage_controls(access, request))


def manage_controls(access: Access, request: gr.Request | None = None) -> tuple[Any, ...]:
    """Whether this session manages models: (the flag the loaded list is drawn with, the controls row, the
    sign-in row, the line said to visitors)."""
    manager = access.may_manage(session_of(request))
    language = language_of(request)
    visitor_line = "" if manager else say(language, "models.read_only", refusal=access.refusal(language))
    return (manager, gr.Row(visible=manager), gr.Row(visible=not manager and access.can_sign_in),
            gr.Markdown(visitor_line, visible=not manager))


def precisions(request: gr.Request | None = None) -> Any:
    """The precision choices, "auto" said in the reader's language."""
    return gr.Radio(choices=precision_choices(language_of(request)))


def precision_choices(language: str | None = None) -> list[tuple[str, str]]:
    return [(say(language, "models.auto"), AUTO), *((str(p), str(p)) for p in Precision)]


# --- the monitor --------------------------------------------------------------------------------

PLOTS = ("tokens_per_s", "ttft_s", "queue", "memory_gib")  # columns; "models.plot_<column>", "models.axis_<column>"


def monitor_frame(monitor: Monitor) -> pd.DataFrame:
    """The last hour of samples, one row each; a quiet interval has 0 tok/s and no time to first token."""
    rows = [{"time": datetime.fromtimestamp(s.at), "tokens_per_s": s.tokens_per_s or 0.0, "ttft_s": s.ttft_s,
             "queue": s.queue, "memory_gib": round(s.memory_used / 2**30, 3)} for s in monitor.samples()]
    return pd.DataFrame(rows, columns=["time", *PLOTS])


def monitor_summary(monitor: Monitor, language: str | None = None) -> str:
    def said(name: str, **params: Any) -> str:
        return say(language, f"models.{name}", **params)

    f = monitor.figures()
    minutes = f["window_s"] / 60
    if not f["requests"]:
        return said("monitor_quiet", minutes=minutes, running=monitor.running, seconds=SAMPLE_S)
    outcomes = [Said(f"models.outcome_{o}", {"count": f["outcomes"][o]}) for o in OUTCOMES if f["outcomes"].get(o)]
    parts = [said("monitor_requests", minutes=minutes, requests=f["requests"], outcomes=outcomes),
             said("monitor_ttft", p50=f["ttft_p50_s"], p95=f["ttft_p95_s"]) if f["ttft_p50_s"] is not None
             else said("monitor_no_ttft")]
    if f["tokens_per_s_p50"] is not None:
        parts.append(said("monitor_speed", rate=f["tokens_per_s_p50"]))
    parts += [said("monitor_errors", share=f["error_rate"]), said("monitor_running", running=monitor.running)]
    return said("separator").join(parts)


def plot(frame: pd.DataFrame, column: str, language: str | None = None) -> gr.LinePlot:
    """One Monitor plot's samples with its titles in `language`."""
    return gr.LinePlot(frame, title=say(language, f"models.plot_{column}"), x_title=say(language, "models.axis_time"),
                       y_title=say(language, f"models.axis_{column}"))


def monitor_updates(monitor: Monitor, request: gr.Request | None = None) -> tuple[Any, ...]:
    language = language_of(request)
    frame = monitor_frame(monitor)
    return (monitor_summary(monitor, language), *(plot(frame, column, language) for column in PLOTS))


def build(catalog: Catalog, registry: Registry, page: Page, access: Access, monitor: Monitor) -> None:
    # Words made here are English until the page's language is known (`page.load` says them again in it).
    errors = gr.State({})
    manager = gr.State(access.open)
    language = gr.State(DEFAULT)  # the page's, once known: the loaded list is drawn in it
    summary = gr.Markdown(device_summary(registry), elem_id="device-summary")
    copies = gr.JSON(loaded_copies(registry), visible=False)
    status = gr.Markdown(elem_id="models-status")
    visitor = gr.Markdown(visible=False, elem_id="models-visitor")
    with gr.Row(visible=False, elem_id="models-sign-in") as sign_in_row:
        token = gr.Textbox(label=t("models.admin_token"), type="password", scale=3, elem_id="models-token")
        sign_in_button = gr.Button(t("models.sign_in"), scale=1, elem_id="models-sign-in-button")

    @gr.render(inputs=[copies, manager, language])  # drawn on load and again when any of them changes
    def draw_copies(current: list[list[Any]], manages: bool, code: str) -> None:
        # (said here, not `t`: the browser is sent the keys used when the app was built, before any render)
        gr.Markdown(say(code, "models.loaded_heading" if current else "models.nothing_loaded"))
        for copy in current:
            key, precision, state = copy[:3]
            with gr.Row(equal_height=True, elem_classes=["loaded-copy"]):
                gr.Markdown(copy_line(copy, code), elem_classes=["copy-text"])
                if not manages:
                    continue
                unload = gr.Button(say(code, "models.unload_copy", key=key, precision=precision), size="sm",
                                   scale=0, min_width=160, interactive=state != "loading",
                                   elem_classes=["unload-copy"])
                unload.click(bound(unload_model, registry, access, key, precision), None, status,
                             api_visibility="private").then(
                    functools.partial(loaded_copies, registry), None, copies, api_visibility="private")

    gr.Markdown(t("models.catalogue"))
    grid = gr.Dataframe(value=table(registry), headers=headers(), interactive=False, elem_id="models-table",
                        wrap=True, column_widths=["32%", "16%", "24%", "28%"], max_height=520)
    first = next(iter(catalog))
    key = gr.Dropdown(choices=[spec.key for spec in catalog], value=first.key, label=t("models.model"),
                      filterable=True, elem_id="models-key")
    model_details = gr.Markdown(details(registry, first.key), elem_id="models-details")
    with gr.Row(equal_height=True, visible=access.open, elem_id="models-manage") as manage_row:
        precision = gr.Radio(precision_choices(), value=AUTO, label=t("models.precision"), scale=2,
                             elem_id="models-precision")
        load = gr.Button(t("models.load"), variant="primary", elem_id="models-load", scale=1)
        unload = gr.Button(t("models.unload"), elem_id="models-unload", scale=1)

    refresh = bound(_refresh, registry)
    outputs = [summary, grid, copies]
    show_details = bound(details, registry)
    key.change(show_details, key, model_details, api_visibility="private", queue=False)
    grid.select(pick_row, None, key, api_visibility="private", queue=False)
    access_outputs = [manager, manage_row, sign_in_row, visitor]
    page.load(language_of, None, language, queue=False)
    page.load(bound(manage_controls, access), None, access_outputs, api_visibility="private",
              queue=False)
    page.load(show_details, key, model_details, queue=False)
    page.load(precisions, None, precision, queue=False)
    gr.on([sign_in_button.click, token.submit], bound(sign_in, access), token,
          [status, token, *access_outputs], api_visibility="private", queue=False)
    load.click(bound(load_model, registry, access), [key, precision, errors],
               [status, load, unload, errors],
               api_visibility="private", concurrency_limit=None).then(
        refresh, errors, outputs, api_visibility="private")
    unload.click(bound(unload_model, registry, access), [key, precision], status,
                 api_visibility="private").then(refresh, errors, outputs, api_visibility="private")
    gr.Timer(REFRESH_S).tick(refresh, errors, outputs, api_visibility="private", show_progress="hidden")
    # Each page that opens shows the registry as it is then, not as it was when the app started.
    page.load(refresh, errors, outputs, api_visibility="private", queue=False)

    with gr.Accordion(t("models.monitor"), open=False, elem_id="monitor"):
        monitor_help = gr.Markdown(say(None, "models.monitor_help", seconds=SAMPLE_S))
        summary_line = gr.Markdown(monitor_summary(monitor), elem_id="monitor-summary")
        plots = []
        frame = monitor_frame(monitor)
        for row in (PLOTS[:2], PLOTS[2:]):
            with gr.Row():
                for column in row:
                    plots.append(gr.LinePlot(frame, x="time", y=column, title=say(None, f"models.plot_{column}"),
                                             x_title=say(None, "models.axis_time"),
                                             y_title=say(None, f"models.axis_{column}"), height=220,
                                             elem_classes=["monitor-plot"]))
    page.load(words("models.monitor_help", seconds=SAMPLE_S), None, monitor_help, queue=False)
    gr.Timer(SAMPLE_S).tick(bound(monitor_updates, monitor), None, [summary_line, *plots],
                            api_visibility="private", show_progress="hidden")
    page.load(bound(monitor_updates, monitor), None, [summary_line, *plots], api_visibility="private",
              queue=False)

    def list_models() -> list[dict[str, Any]]:
        return models(registry)

    list_models.__doc__ = models.__doc__
    gr.api(list_models, api_name="models")


def pick_row(data: gr.SelectData) -> Any:
    """A click anywhere in a model's row picks that model."""
    row = data.row_value if data.row_value else None
    return row[0] if row else gr.skip()


def _refresh(registry: Registry, errors: dict[str, Said | str],
             request: gr.Request | None = None) -> tuple[str, pd.DataFrame, list[list[Any]]]:
    """The summary, the grid (its headers too: they are said in the session's language) and the loaded copies."""
    language = language_of(request)
    grid = pd.DataFrame(table(registry, errors, language), columns=headers(language))
    return device_summary(registry, language), grid, loaded_copies(registry)


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=say(None, TITLE)) as app:
        page = Page.build(app)
        build(services.catalog, services.registry, page, services.access, services.engine.monitor)
        page.finish()
    app.launch(i18n=translations())
