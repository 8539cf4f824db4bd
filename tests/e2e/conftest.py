"""Browser tests: a real Chromium (Playwright's sync API) driving the real app.

The app here is this folder's own instance of `app.py` on the tiny catalogue, so what a browser
test loads, streams or unloads never disturbs the API tests that share `app_url`.

Chromium is the system one (Debian's `chromium` package) or PLAYGROUND_CHROMIUM; Playwright's
own browser download is never used. A missing browser fails the run rather than skipping it,
so a CI without one cannot pass silently.

On a failure the page is screenshotted into the test's tmp dir and the path, with the end of the
app's log, is added to the failure report. Set PLAYGROUND_E2E_SHOTS to a folder to also keep
the screenshots the tests take along the way (`shot()` in test_browser.py).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.catalogs import write_catalog
from devtools.launch import AppProcess
from devtools.tiny import build_checkpoint
from tests.e2e.pages import BROKEN_MODEL, THINKING_MODEL, settle
from tests.fakes import tiny_entries

E2E_DIR = Path(__file__).resolve().parent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGE_LOAD_TIMEOUT_MS = 60_000

SHOT_DIR = pytest.StashKey[Path]()
APP_LOG = pytest.StashKey[Path]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder is an e2e test, whatever module it lives in."""
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_catalog_path(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models, plus a thinking-only one (its template opens <think>, as Qwen3-*-Thinking-2507's do:
    every token it writes is thinking) and a broken folder whose weights cannot be read."""
    root = tmp_path_factory.mktemp("e2e-models")
    thinking = build_checkpoint("qwen3", root / "tiny-qwen3-thinking", opens_thinking=True)
    # Whole files that do not fit together (the config's shapes are not the weights'): the catalogue's checks
    # pass, and the load itself fails, as a download that went wrong half-way can.
    broken = shutil.copytree(tiny_checkpoints["tiny-qwen2"], root / "tiny-broken")
    config = json.loads((broken / "config.json").read_text())
    config["intermediate_size"] *= 2
    (broken / "config.json").write_text(json.dumps(config))
    entries = {
        **tiny_entries(tiny_checkpoints),
        THINKING_MODEL: {"source": thinking, "tasks": ["chat", "thinking"], "thinking_mode": "always"},
        BROKEN_MODEL: {"source": broken, "tasks": ["chat"]},
    }
    return write_catalog(root / "e2e.toml", entries)


@pytest.fixture(scope="session")
def e2e_app(e2e_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(url, log path) of an app instance that only the browser tests use."""
    log_path = tmp_path_factory.mktemp("e2e-app") / "app.log"
    with AppProcess(e2e_catalog_path, log_path, "--device", "cpu") as app:
        yield app.url, log_path


@pytest.fixture(scope="session")
def scripted_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(url, log path) of the app over scripted models (`scripted_app.py`), for tests marked `scripted`."""
    log_path = tmp_path_factory.mktemp("scripted-app") / "app.log"
    with AppProcess(None, log_path, entry=E2E_DIR / "scripted_app.py") as app:
        yield app.url, log_path


@pytest.fixture(scope="session")
def e2e_app_url(e2e_app: tuple[str, Path]) -> str:
    return e2e_app[0]


def chromium_executable() -> str:
    candidate = os.environ.get("PLAYGROUND_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    resolved = shutil.which(candidate)  # an executable file, by path or by name on PATH
    if resolved is None:
        pytest.fail(
            f"The browser tests need Chromium, and {candidate!r} is not an executable. Install Debian's "
            "chromium (apt-get install chromium) or set PLAYGROUND_CHROMIUM to a Chromium or Chrome binary. "
            "(`playwright install` is not used: the tests run the system browser.)",
            pytrace=False,
        )
    return resolved


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, e2e_app: tuple[str, Path], request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh browser context with the app loaded: a new Gradio session, an empty chat, nothing kept in the
    browser. Desktop and light by default; `@pytest.mark.parametrize("page", ["phone", "dark", "phone-dark"],
    indirect=True)` for the others."""
    url, log_path = request.getfixturevalue("scripted_app") if request.node.get_closest_marker("scripted") else e2e_app
    request.node.stash[SHOT_DIR] = tmp_path
    request.node.stash[APP_LOG] = log_path
    variant = getattr(request, "param", "desktop")
    context = browser.new_context(viewport=PHONE if "phone" in variant else VIEWPORT,
                                  color_scheme="dark" if "dark" in variant else "light",
                                  is_mobile="phone" in variant, has_touch="phone" in variant)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(url, timeout=PAGE_LOAD_TIMEOUT_MS)
        page.locator("#chatbot").wait_for(state="visible", timeout=PAGE_LOAD_TIMEOUT_MS)
        # On a phone the sidebars fold once the page is up; a click before that would race the fold.
        page.wait_for_function("() => document.body.dataset.sidebarsSettled === '1'", timeout=PAGE_LOAD_TIMEOUT_MS)
        if "phone" in variant:
            settle(page, "#settings-sidebar")
        yield page
    finally:
        context.close()


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    # Drop the per-request httpx lines: they drown the tracebacks.
    kept = [line for line in text.splitlines() if " INFO httpx: " not in line]
    return "\n".join(kept[-lines:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failed test: screenshot the page and name the file (and the app log) in the report."""
    report = yield
    if report.when != "call" or not report.failed or getattr(report, "wasxfail", None) is not None:
        return report
    page = getattr(item, "funcargs", {}).get("page")
    shot_dir = item.stash.get(SHOT_DIR, None)
    notes = []
    if page is not None and shot_dir is not None:
        path = shot_dir / "failure.png"
        try:
            page.screenshot(path=str(path), full_page=True, timeout=15_000)
            notes.append(f"screenshot of the page at the failure: {path}")
        except Exception as exc:  # a crashed page must not hide the real failure
            notes.append(f"no screenshot ({type(exc).__name__}: {exc})")
    log_path = item.stash.get(APP_LOG, None)
    if log_path is not None:
        notes.append(f"app log: {log_path}\n{_log_tail(log_path)}")
    if notes:
        text = "\n".join(notes)
        if hasattr(report.longrepr, "addsection"):
            report.longrepr.addsection("e2e failure artefacts", text)
        else:
            report.sections.append(("e2e failure artefacts", text))
    return report
