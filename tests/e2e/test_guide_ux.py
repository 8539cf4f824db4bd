"""The Model guide tab in a browser: the matrix and the picks with what fits here, the filters narrowing them,
and a pick's button opening its tab (Chat, Code) with that model picked and the tab's settings following it.

The app here runs its own catalogue: two tiny checkpoints under keys the guide recommends ("qwen3-0.6b", a
Qwen3 that thinks, and "qwen2.5-coder-1.5b-instruct"), so the guide finds them and places them on this
machine, and every other recommendation is one this app's catalogue lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devtools.catalogs import write_catalog
from devtools.launch import AppProcess
from devtools.tiny import build_checkpoint
from tests.e2e.conftest import APP_LOG, PAGE_LOAD_TIMEOUT_MS, SHOT_DIR, VIEWPORT
from tests.e2e.pages import UI_TIMEOUT_MS, model_picker, open_tab, settings, shot
from tests.fakes import QWEN3_THINKING_PRESET

pytestmark = pytest.mark.e2e

THINKER = "qwen3-0.6b"
CODER = "qwen2.5-coder-1.5b-instruct"


@pytest.fixture(scope="module")
def guide_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("guide-models")
    entries = {
        THINKER: {"source": build_checkpoint("qwen3", root / "qwen3"), "tasks": ["chat", "math", "code", "thinking"],
                  "sampling": {"thinking": QWEN3_THINKING_PRESET}},
        CODER: {"source": build_checkpoint("qwen2", root / "qwen2"), "tasks": ["chat", "code"]},
    }
    catalog = write_catalog(root / "guide.toml", entries)
    log_path = root / "app.log"
    with AppProcess(catalog, log_path, "--device", "cpu") as app:
        yield app.url, log_path


@pytest.fixture
def guide_page(browser, guide_app: tuple[str, Path], request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    url, log_path = guide_app
    request.node.stash[SHOT_DIR] = tmp_path
    request.node.stash[APP_LOG] = log_path
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(url, timeout=PAGE_LOAD_TIMEOUT_MS)
        page.locator("#chatbot").wait_for(state="visible", timeout=PAGE_LOAD_TIMEOUT_MS)
        page.wait_for_function("() => document.body.dataset.sidebarsSettled === '1'", timeout=PAGE_LOAD_TIMEOUT_MS)
        open_tab(page, "Model guide")
        expect(page.locator("#guide-matrix")).to_be_visible()
        yield page
    finally:
        context.close()


def matrix_series(page: Page) -> list[str]:
    """The series the matrix shows, top to bottom (its first column)."""
    rows = page.locator("#guide-matrix").get_by_role("row").filter(has=page.get_by_role("gridcell"))
    return [rows.nth(i).get_by_role("gridcell").first.inner_text().strip() for i in range(rows.count())]


def pick_row(page: Page, task: str, key: str):
    return page.locator(f"[id='guide-pick-{task}-{re.sub(r'[^a-z0-9]+', '-', key)}']")


def test_the_guide_shows_the_series_and_what_fits_here_and_the_filters_narrow_it(guide_page: Page) -> None:
    page = guide_page
    expect(page.locator("#guide-matrix")).to_contain_text("Qwen3-MoE")
    assert len(matrix_series(page)) == 9
    thinker = pick_row(page, "basic", THINKER)
    expect(thinker).to_be_visible()
    # A tiny checkpoint fits this machine at every precision, with the registry's estimate.
    for precision in ("bf16", "int8", "NF4"):
        expect(thinker).to_contain_text(re.compile(rf"{precision} ✓ fits \(\d"))
    expect(thinker).to_contain_text("on this CPU")
    expect(thinker.get_by_role("button", name="Open in Chat")).to_be_visible()
    missing = pick_row(page, "basic", "qwen3-8b")
    expect(missing).to_contain_text("not in this app's catalogue")
    expect(missing.get_by_role("button")).to_have_count(0)
    expect(page.locator("#guide-how")).to_contain_text("Speed is an estimate")
    shot(page, "guide-all")

    page.get_by_role("radio", name="Code", exact=True).check()
    expect(page.locator("#guide-task-basic")).to_be_hidden()
    expect(page.locator("#guide-task-code")).to_be_visible()
    expect(page.locator("#guide-matrix").get_by_role("row").filter(has=page.get_by_role("gridcell"))) \
        .to_have_count(1)
    assert matrix_series(page) == ["Qwen2.5-Coder"]
    expect(pick_row(page, "code", "qwen2.5-coder-7b-instruct")).to_be_visible()

    page.get_by_role("checkbox", name="Only what fits on this machine").check()
    expect(pick_row(page, "code", "qwen2.5-coder-7b-instruct")).to_be_hidden()
    expect(pick_row(page, "code", CODER)).to_be_visible()
    shot(page, "guide-code-fits")

    page.get_by_role("radio", name="Images and video", exact=True).check()
    expect(page.locator("#guide-task-multimodal .guide-none-left").first).to_be_visible()
    expect(page.locator("#guide-task-code")).to_be_hidden()


def test_a_picks_button_opens_its_tab_with_that_model_picked(guide_page: Page) -> None:
    page = guide_page
    pick_row(page, "basic", THINKER).get_by_role("button", name="Open in Chat").click()
    expect(page.locator("#chat-input textarea")).to_be_visible()
    expect(page.get_by_role("tab", name="Chat", exact=True)).to_have_attribute("aria-selected", "true")
    with settings(page):
        expect(model_picker(page)).to_have_value(re.compile(rf"· {re.escape(THINKER)} ·"))
        # The settings followed the model as a pick by hand makes them: its line, and the thinking switch of a
        # Qwen3 that thinks.
        expect(page.locator("#model-info")).to_contain_text(THINKER)
        expect(page.locator("#chat-thinking")).to_be_visible()
    shot(page, "guide-opened-chat")

    open_tab(page, "Model guide")
    pick_row(page, "code", CODER).get_by_role("button", name="Open in Code").click()
    expect(page.get_by_role("tab", name="Code", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#code-input textarea")).to_be_visible()
    expect(page.locator("#code-model").get_by_role("combobox")).to_have_value(re.compile(rf"· {re.escape(CODER)} ·"))
    # The Code tab followed the model (its first pick was the Qwen3 that thinks): a Qwen2.5 coder never thinks.
    expect(page.locator("#code-thinking")).to_be_hidden()
    expect(page.get_by_text("Never thinks.")).to_be_visible()
    shot(page, "guide-opened-code")
