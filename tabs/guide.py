"""Model guide tab: which Qwen model for which job, and what runs on this machine now.

At the top, two filters: the task, and "only what fits on this machine". Then the lesson's comparison
matrix (series, parameters, context, main strength, best use), narrowed to the series the task's picks
come from. Then the selection guide: for each task its picks, smallest first, each a card (why, whether
it fits here at bf16 / int8 / NF4 (the registry's own decision), an estimate of its speed here) beside a
button that opens the right tab with that model picked. A model this app's catalogue lacks says so
and has no button. The words and figures are made each time the reader opens the tab or changes a filter,
in their language, with the machine as it is then.

The data and its join with this machine are `playground.guide`; this module words them in the reader's
language and lays them out. Which tab a button opens is the app's to say (`Destination`, made in `app.py`:
tabs never import each other). The cards are built once (the guide is fixed while the app runs); the
filters only show and hide them, so every button keeps its one event.

    python -m tabs.guide   # this tab alone, for development (no other tab to open: no buttons)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from playground.catalog import Precision
from playground.guide import (
    PRECISIONS,
    Guide,
    Pick,
    Placement,
    Series,
    TaskGuide,
    Where,
    picks_for,
    placements,
    series_for,
)
from playground.i18n import Said, say
from playground.memory import format_bytes
from playground.registry import Registry
from tabs import picker
from tabs.i18n import Page, language_of, t
from tabs.reply import bound

TITLE = "guide.title"  # a message key
ALL = "all"  # the task filter's "all tasks"
PRECISION_NAMES = {Precision.BF16: "bf16", Precision.INT8: "int8", Precision.NF4: "NF4"}  # the same in every language
# A pick's card and button share a row; below these widths (a phone) the button goes under the card.
CARD_MIN_WIDTH = 300
BUTTON_MIN_WIDTH = 150


@dataclass(frozen=True)
class Destination:
    """Where a pick's button takes the reader: a tab (its id in the app's `gr.Tabs`), that tab's model picker, and
    what the tab does once its picker was set from outside (`follow(event)` chains its follow-the-model steps
    after `event`), if it does anything."""

    tab: str
    picker: gr.Dropdown
    follow: Callable[[Any], Any] | None = None

    def has(self, key: str) -> bool:
        """Whether the picker offers `key` (a tab lists only the models of its task)."""
        return any((choice[1] if isinstance(choice, tuple) else choice) == key for choice in self.picker.choices)


def destination(task: TaskGuide, key: str, destinations: Mapping[str, Destination]) -> Destination | None:
    """Where `key`'s button goes: the task's own tab if its picker offers the model, else the Chat tab if that
    one does, else nowhere (no button)."""
    for tab in (task.tab, "chat"):
        found = destinations.get(tab)
        if found is not None and found.has(key):
            return found
    return None


# --- the words (made per request, in the reader's language) -------------------------------------------


def size_words(billions: Sequence[float], language: str | None) -> str:
    numbers = [f"{b:g}" for b in billions]
    if len(numbers) == 1:
        return say(language, "guide.size_one", size=numbers[0])
    return say(language, "guide.size_range", low=numbers[0], high=numbers[-1])


def matrix(series: Sequence[Series], language: str | None) -> pd.DataFrame:
    """The comparison matrix: one row per series, the headers in the reader's language."""
    rows = []
    for s in series:
        sizes = size_words(s.sizes_billion, language)
        if s.active_billion:
            sizes = say(language, "guide.size_active", sizes=sizes, active=size_words(s.active_billion, language))
        context = (say(language, "guide.tokens_extended", tokens=s.context, extended=s.context_extended)
                   if s.context_extended else say(language, "guide.tokens", tokens=s.context))
        rows.append([s.name, sizes, context, say(language, s.strength), say(language, s.use)])
    headers = [say(language, key) for key in ("guide.series", "guide.parameters", "guide.context",
                                               "guide.strength_header", "guide.use_header")]
    return pd.DataFrame(rows, columns=headers)


def model_words(where: Placement, language: str | None) -> str:
    """What to say beside the model's key: its size, its loaded copy, or what stands in its way."""
    if where.where is Where.MISSING:
        return say(language, "guide.missing")
    if where.where is Where.UNAVAILABLE:
        reason = where.reason.text(language) if isinstance(where.reason, Said) else str(where.reason)
        return say(language, "guide.unavailable", reason=reason)
    if where.where is Where.REMOTE:
        return say(language, "guide.remote")
    if where.loaded is not None:
        return say(language, "guide.loading" if where.loading else "guide.loaded", precision=where.loaded)
    return say(language, "guide.size", size=picker.size_text(where.spec, language))


def fit_words(where: Placement, language: str | None) -> list[str]:
    """One cell per guide precision (none for a model that does not load here): fits (with its estimate), needs
    more, loaded, size unknown, or not on this model's ladder."""
    if where.where is not Where.LOCAL:
        return []
    cells = []
    for precision in PRECISIONS:
        fits = where.fits.get(precision)
        need = where.need.get(precision)
        if fits is None:
            cells.append(say(language, "guide.fit_none"))
        elif where.loaded is precision:
            cells.append(say(language, "guide.fit_loaded"))
        elif need is None:
            cells.append(say(language, "guide.fit_unknown"))
        else:
            cells.append(say(language, "guide.fit_yes" if fits else "guide.fit_no", need=format_bytes(need)))
    return cells


def speed_words(where: Placement, language: str | None) -> str:
    """The speed class here ("" where the model does not run here)."""
    if where.where is Where.REMOTE:
        return say(language, "guide.remote")
    if where.where is not Where.LOCAL or where.best is None:
        return ""
    if where.speed is None:
        return say(language, "guide.speed_unknown")
    return say(language, f"guide.speed_{where.speed}", device=say(language, f"guide.device_{where.device}"))


@dataclass(frozen=True)
class PickView:
    """One pick's row: shown or not, and its words."""

    shown: bool
    key: str
    model: str  # beside the key: size, loaded copy, or what stands in its way
    why: str
    fits: tuple[str, ...]  # one per guide precision; () for a model that does not load here
    speed: str  # "" where it does not run here
    separator: str = " · "

    def card(self) -> str:
        """The row as one text: the key with its note and speed, why, and the fit at each precision by name."""
        head = self.separator.join(part for part in (f"**{self.key}**", self.model, self.speed) if part)
        lines = [head, self.why]
        if self.fits:
            lines.append(self.separator.join(f"**{PRECISION_NAMES[p]}** {cell}"
                                             for p, cell in zip(PRECISIONS, self.fits, strict=True)))
        return "\n\n".join(lines)


@dataclass(frozen=True)
class GuideView:
    """What the tab shows for one request: the matrix, the tasks and picks shown, every pick's words."""

    matrix: pd.DataFrame
    how: str
    tasks: Mapping[str, bool]  # task id -> shown
    empty: Mapping[str, bool]  # task id -> shown, with no pick left (the "nothing fits" note)
    picks: Mapping[tuple[str, str], PickView]  # (task id, model key) -> its row


def view(guide: Guide, registry: Registry, task: str = ALL, fits_only: bool = False,
         language: str | None = None) -> GuideView:
    """The guide as it stands on this machine now, filtered, in `language`."""
    placed = placements(guide, registry)
    chosen = None if task in (ALL, None, "") else task
    shown = {t.id: {p.model for p in picks} for t, picks in picks_for(guide, placed, chosen, fits_only)}
    separator = say(language, "picker.separator")
    rows = {}
    for t_ in guide.tasks:
        for pick in t_.picks:
            where = placed[pick.model]
            rows[(t_.id, pick.model)] = PickView(
                shown=pick.model in shown.get(t_.id, ()), key=pick.model, model=model_words(where, language),
                why=say(language, pick.why), fits=tuple(fit_words(where, language)),
                speed=speed_words(where, language), separator=separator)
    memory = registry.memory()
    rule = guide.speed
    how = say(language, "guide.how", device_name=memory.name, room=format_bytes(max(registry.room(), 0)),
              bandwidth=f"{rule.bandwidth.get(memory.kind, rule.bandwidth['cpu']) / 1e9:g}", fast=f"{rule.fast:g}",
              fine=f"{rule.fine:g}", slow=f"{rule.slow:g}")
    return GuideView(matrix=matrix(series_for(guide, chosen), language), how=how,
                     tasks={t_.id: t_.id in shown for t_ in guide.tasks},
                     empty={t_.id: t_.id in shown and not shown[t_.id] for t_ in guide.tasks}, picks=rows)


# --- layout and wiring ------------------------------------------------------------------------------------


@dataclass
class _Row:
    task: str
    pick: Pick
    row: gr.Row
    card: gr.Markdown


@dataclass
class _Task:
    id: str
    group: gr.Column
    empty: gr.Markdown
    rows: list[_Row]


def slug(text: str) -> str:
    """`text` as a piece of an HTML id ("qwen2.5-vl-3b" -> "qwen2-5-vl-3b")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def refresh(guide: Guide, registry: Registry, tasks: Sequence[_Task], task: str, fits_only: bool,
            request: gr.Request | None = None) -> list[Any]:
    """Every output of the tab, in the order `outputs(tasks)` lists them."""
    shown = view(guide, registry, task, bool(fits_only), language_of(request))
    updates: list[Any] = [shown.matrix, shown.how]
    for block in tasks:
        updates += [gr.Column(visible=shown.tasks[block.id]), gr.Markdown(visible=shown.empty[block.id])]
        for row in block.rows:
            words = shown.picks[(row.task, row.pick.model)]
            updates += [gr.Row(visible=words.shown), words.card()]
    return updates


def outputs(matrix_table: gr.Dataframe, how: gr.Markdown, tasks: Sequence[_Task]) -> list[Any]:
    found: list[Any] = [matrix_table, how]
    for block in tasks:
        found += [block.group, block.empty]
        for row in block.rows:
            found += [row.row, row.card]
    return found


def open_in(tab: str, key: str) -> tuple[Any, Any]:
    """A pick's button: that tab selected, with the model in its picker (whose choices stay as they are)."""
    return gr.Tabs(selected=tab), gr.update(value=key)


def build(guide: Guide, registry: Registry, page: Page, destinations: Mapping[str, Destination] | None = None,
          tabs: gr.Tabs | None = None, shown_by: gr.Tab | None = None) -> None:
    """The tab. `destinations` (tab id -> `Destination`) and `tabs` (the app's tabs) give the picks their buttons;
    `shown_by` (this tab's `gr.Tab`) fills it with what fits now each time the reader opens it."""
    destinations = destinations or {}
    gr.Markdown(t("guide.intro"), elem_id="guide-intro")
    with gr.Row(equal_height=True):
        task = gr.Radio([(t("guide.all_tasks"), ALL), *((t(g.title), g.id) for g in guide.tasks)], value=ALL,
                        label=t("guide.task_filter"), elem_id="guide-task", scale=3)
        fits_only = gr.Checkbox(value=False, label=t("guide.fits_only"), info=t("guide.fits_only_info"),
                                elem_id="guide-fits-only", scale=1)
    gr.Markdown("### " + t("guide.matrix"), elem_id="guide-matrix-title")
    matrix_table = gr.Dataframe(value=matrix(guide.series, None), interactive=False, wrap=True,
                                elem_id="guide-matrix", max_height=900,
                                # In pixels: on a phone the table scrolls sideways rather than squeezing the words.
                                column_widths=["140px", "150px", "170px", "360px", "360px"])
    gr.Markdown("### " + t("guide.picks"), elem_id="guide-picks-title")
    blocks = []
    for task_guide in guide.tasks:
        with gr.Column(elem_id=f"guide-task-{slug(task_guide.id)}", elem_classes=["guide-task"]) as group:
            gr.Markdown("#### " + t(task_guide.title), elem_classes=["guide-task-title"])
            rows = [_pick_row(task_guide, pick, destinations, tabs) for pick in task_guide.picks]
            empty = gr.Markdown(t("guide.none_left"), visible=False, elem_classes=["guide-none-left"])
        blocks.append(_Task(task_guide.id, group, empty, rows))
    how = gr.Markdown(elem_id="guide-how")

    handler = bound(refresh, guide, registry, blocks)  # a partial would not be handed the reader's request
    listed = outputs(matrix_table, how, blocks)
    quiet = dict(api_visibility="private", queue=False, show_progress="hidden")
    # Filled when the reader opens the tab (so a page that never shows it never pays for it) and again at each
    # filter change; on its own, when the page opens.
    if shown_by is not None:
        shown_by.select(handler, [task, fits_only], listed, **quiet)
    else:
        page.load(handler, [task, fits_only], listed, **quiet)
    gr.on([task.change, fits_only.change], handler, [task, fits_only], listed, **quiet)


def _pick_row(task: TaskGuide, pick: Pick, destinations: Mapping[str, Destination], tabs: gr.Tabs | None) -> _Row:
    """One pick: its card (the words, made when the tab opens; until then its key and why) and its button. Few
    components per pick: the page carries every tab's components from the start."""
    key = slug(f"{task.id}-{pick.model}")
    with gr.Row(variant="panel", elem_id=f"guide-pick-{key}", elem_classes=["guide-pick"]) as row:
        with gr.Column(scale=5, min_width=CARD_MIN_WIDTH):
            card = gr.Markdown(f"**{pick.model}**\n\n" + t(pick.why), elem_classes=["guide-card"])
        target = destination(task, pick.model, destinations) if tabs is not None else None
        if target is not None:
            button = gr.Button(t(f"guide.open_{target.tab}"), size="sm", scale=1, min_width=BUTTON_MIN_WIDTH,
                               elem_id=f"guide-open-{key}", elem_classes=["guide-open"])
            event = button.click(functools.partial(open_in, target.tab, pick.model), None, [tabs, target.picker],
                                 api_visibility="private", queue=False)
            if target.follow is not None:
                target.follow(event)
    return _Row(task.id, pick, row, card)


if __name__ == "__main__":
    from playground.guide import load_guide
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=say(None, TITLE)) as app:
        page = Page.build(app)
        build(load_guide(), services.registry, page)
        page.finish()
    app.launch(i18n=translations())
