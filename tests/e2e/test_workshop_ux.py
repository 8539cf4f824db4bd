"""Workshop mode in a real browser: the page opens with the join address and a QR code a phone can read (read
back here from a screenshot), above the tabs and foldable; a learner's Models tab has no Load or Unload, and the
teacher, signed in with the token the console printed, has both."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from devtools.launch import AppProcess
from tests.e2e.pages import open_tab, shot

MODEL = "tiny-qwen3"
# What the teacher gives with --join-url (a name on the room's network); the addresses found from this
# machine's interfaces are tests/unit/test_workshop.py's.
JOIN_URL = "http://workshop.test:7860"
TIMEOUT_MS = 60_000
STEP_MS = 30_000  # a busy CI machine: a sign-in or a refresh can take seconds


@pytest.fixture(scope="module")
def workshop_app(e2e_catalog_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(url, the admin token its console printed) of an app running a workshop of one model."""
    log = tmp_path_factory.mktemp("workshop") / "app.log"
    with AppProcess(e2e_catalog_path, log, "--device", "cpu", "--host", "127.0.0.1", "--workshop", MODEL,
                    "--join-url", JOIN_URL) as app:
        token = re.search(r"with the admin token (\S+)", log.read_text())
        assert token, log.read_text()
        yield app.url, token.group(1)


def opened(browser: Browser, url: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(url, timeout=TIMEOUT_MS)
    page.locator("#chatbot").wait_for(state="visible", timeout=TIMEOUT_MS)
    # Ready: the page's language applied (a click before that can be lost) and the sidebars settled (the tabs
    # that do not fit then go behind "More tabs").
    page.wait_for_function("() => !!document.body.dataset.language && document.body.dataset.sidebarsSettled === '1'",
                           timeout=TIMEOUT_MS)
    expect(page.locator("#workshop-join")).to_contain_text("Join this workshop at", timeout=TIMEOUT_MS)
    return page


def read_qr(png: bytes) -> list[str]:
    image = np.array(Image.open(io.BytesIO(png)).convert("L"))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_the_page_opens_with_the_join_address_and_a_qr_code_that_reads(browser: Browser,
                                                                        workshop_app: tuple[str, str]) -> None:
    page = opened(browser, workshop_app[0])
    try:
        join = page.locator("#workshop-join")
        expect(join).to_contain_text(f"Join this workshop at {JOIN_URL}", timeout=TIMEOUT_MS)
        expect(join.get_by_role("link", name=JOIN_URL)).to_have_attribute("href", JOIN_URL, timeout=STEP_MS)
        code = page.locator("#workshop-qr svg")
        expect(code).to_be_visible(timeout=STEP_MS)
        box = code.bounding_box()
        assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 1  # big enough to scan across a room
        assert read_qr(code.screenshot()) == [JOIN_URL]
        tabs = page.get_by_role("tab", name="Chat", exact=True).bounding_box()
        assert page.locator("#workshop-banner").bounding_box()["y"] < tabs["y"]  # above the tabs
        shot(page, "workshop-banner")
        page.locator("#workshop-banner").get_by_text("Join this workshop", exact=True).click()  # fold it away
        expect(code).to_be_hidden(timeout=STEP_MS)
    finally:
        page.context.close()


def test_learners_see_no_load_or_unload_and_the_signed_in_teacher_does(browser: Browser,
                                                                         workshop_app: tuple[str, str]) -> None:
    url, token = workshop_app
    learner = opened(browser, url)
    teacher = latecomer = None
    try:
        open_tab(learner, "Models")
        loaded = learner.locator(".loaded-copy").filter(has_text=MODEL)
        expect(loaded).to_have_count(1, timeout=TIMEOUT_MS)  # preloaded: nobody has chatted yet
        expect(learner.locator("#models-visitor")).to_contain_text(
            "In this workshop the teacher loads and unloads models", timeout=STEP_MS)
        for hidden in ("#models-load", "#models-unload", "#models-precision"):
            expect(learner.locator(hidden)).to_be_hidden(timeout=STEP_MS)
        expect(learner.locator(".unload-copy")).to_have_count(0, timeout=STEP_MS)
        shot(learner, "workshop-learner-models")

        teacher = opened(browser, url)
        open_tab(teacher, "Models")
        box = teacher.locator("#models-token input")
        box.fill(token)
        box.press("Enter")
        expect(teacher.locator("#models-status")).to_contain_text("Signed in", timeout=STEP_MS)
        for shown in ("#models-load", "#models-unload", "#models-precision"):
            expect(teacher.locator(shown)).to_be_visible(timeout=STEP_MS)
        shot(teacher, "workshop-teacher-models")
        # Signing in is per session: the learner's page still has neither, nor has a learner who arrives now.
        learner.bring_to_front()
        expect(learner.locator("#models-load")).to_be_hidden(timeout=STEP_MS)
        expect(learner.locator(".unload-copy")).to_have_count(0, timeout=STEP_MS)
        latecomer = opened(browser, url)
        open_tab(latecomer, "Models")
        expect(latecomer.locator(".loaded-copy").filter(has_text=MODEL)).to_have_count(1, timeout=STEP_MS)
        expect(latecomer.locator("#models-visitor")).to_be_visible(timeout=STEP_MS)
        expect(latecomer.locator("#models-load")).to_be_hidden(timeout=STEP_MS)
        expect(latecomer.locator(".unload-copy")).to_have_count(0, timeout=STEP_MS)
    finally:
        for page in (learner, teacher, latecomer):
            if page is not None:
                page.context.close()
