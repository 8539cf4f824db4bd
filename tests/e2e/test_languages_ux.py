"""The page in each of the learners' languages, as a browser shows it.

- The browser's own language is the page's language on a first visit; the picker changes it, and the
  choice outlives a reload.
- For each language, every tab (its folds opened) and a reply's metrics line show no English left:
  no line of text, placeholder or tab title that is an English message whose translation differs.
  Gradio's own words (Retry, Copy, In queue…) count too.
- Urdu reads right to left: the page says `dir="rtl"`, the header's picker moves to the other side,
  and the message box writes from the right.

Screenshots of every language, desktop and phone, go to PLAYGROUND_E2E_SHOTS when it is set.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from playwright.sync_api import Page, expect

from playground.i18n import DEFAULT, LANGUAGES, fields_of, messages, say
from tests.e2e.conftest import PAGE_LOAD_TIMEOUT_MS, PHONE, VIEWPORT
from tests.e2e.pages import STREAM_TIMEOUT_MS, UI_TIMEOUT_MS, chat_input, send, set_max_new_tokens, settle, shot
from tests.unit.test_i18n import gradio_words

OTHERS = [lang.code for lang in LANGUAGES if lang.code != DEFAULT]
STORAGE_KEY = "qwen-playground-language"


@cache
def english_only(code: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """What would give away an untranslated word in `code`: English messages whose translation differs, as
    whole lines (those without fields) and as patterns (those with fields, a field matching anything)."""
    own = messages(code)
    english = dict(messages(DEFAULT))
    gradio_en = gradio_words("en")
    lines: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for key, words in english.items():
        if key.startswith("gradio."):
            continue
        translated = own.get(key)
        if translated is None or translated == words:
            continue  # missing keys are test_i18n's to find; the same words (a name, "Top-p") are not English
        if fields_of(words):
            literal = re.split(r"\{[^{}]*\}", words)
            if sum(len(piece.strip()) for piece in literal) >= 6:  # enough words to tell English by
                patterns.append(re.compile(r".+?".join(re.escape(piece) for piece in literal)))
        elif len(words.strip()) >= 3 and not words.strip().startswith(("`", "<")):
            lines.add(words.strip())
    for key, words in gradio_en.items():
        translated = own.get(f"gradio.{key}")
        if translated and translated != words and "{" not in words and len(words) >= 3:
            lines.add(words)
    return frozenset(lines), tuple(patterns)


def leftovers(page: Page, code: str) -> list[str]:
    """The visible English bits on the page as it is now (text lines, placeholders, tab titles)."""
    texts: list[str] = page.evaluate("""() => {
        const found = document.body.innerText.split('\\n');
        for (const el of document.querySelectorAll('[placeholder]')) {
            if (el.offsetParent !== null) found.push(el.getAttribute('placeholder'));
        }
        return found.map((t) => t.trim()).filter((t) => t);
    }""")
    lines, patterns = english_only(code)
    found = []
    for text in texts:
        if text in lines or any(pattern.fullmatch(text) for pattern in patterns):
            found.append(text)
    return sorted(set(found))


def open_page(browser, url: str, *, locale: str | None = None, chosen: str | None = None,
              viewport: dict[str, int] = VIEWPORT) -> Page:
    """A new browser (its language `locale`) on the app, with the reader's saved choice `chosen` if any."""
    context = browser.new_context(viewport=viewport, locale=locale or "en-US", is_mobile=viewport is PHONE,
                                  has_touch=viewport is PHONE)
    context.set_default_timeout(UI_TIMEOUT_MS)
    if chosen:
        context.add_init_script(f"localStorage.setItem({STORAGE_KEY!r}, {chosen!r})")
    page = context.new_page()
    page.goto(url, timeout=PAGE_LOAD_TIMEOUT_MS)
    page.locator("#chatbot").wait_for(state="visible", timeout=PAGE_LOAD_TIMEOUT_MS)
    page.wait_for_function("() => document.body.dataset.sidebarsSettled === '1'", timeout=PAGE_LOAD_TIMEOUT_MS)
    return page


def language_shown(page: Page) -> str:
    page.wait_for_function("() => document.body.dataset.language", timeout=PAGE_LOAD_TIMEOUT_MS)
    return page.evaluate("() => document.body.dataset.language")


def tab_titles(page: Page) -> list[str]:
    """Every top-level tab's title, those behind "More tabs" (on a narrow bar) too."""
    titles = page.locator("#app-tabs > .tab-wrapper > .tab-container.visually-hidden button").all_inner_texts()
    return [title.strip() for title in titles]


def open_tab_titled(page: Page, title: str) -> None:
    tab = page.locator("#app-tabs > .tab-wrapper [role='tab']").filter(has_text=re.compile(rf"^{re.escape(title)}$"))
    if not tab.count() or not tab.is_visible():
        page.locator("#app-tabs > .tab-wrapper .overflow-menu > button").click()
        tab = page.locator("#app-tabs > .tab-wrapper .overflow-dropdown button").filter(
            has_text=re.compile(rf"^{re.escape(title)}$"))
    tab.click()


def open_every_fold(page: Page) -> None:
    """Open the closed accordions of the tab in view, so their words are on the page too."""
    for fold in page.locator(".tabitem:visible button.label-wrap:not(.open)").all():
        if fold.is_visible():
            fold.click()


@pytest.fixture(scope="module")
def url(e2e_app) -> str:
    return e2e_app[0]


def test_the_browsers_language_is_the_first_one_and_the_picker_changes_it(browser, url: str) -> None:
    page = open_page(browser, url, locale="sw-KE")
    try:
        assert language_shown(page) == "sw"
        expect(page.get_by_role("tab", name=say("sw", "chat.title"), exact=True)).to_be_visible()
        assert page.evaluate("() => document.documentElement.lang") == "sw"
        picker = page.locator("#language-picker input")
        expect(picker).to_have_value("Kiswahili")
        # Pick Marathi: the page reloads in it, and a reload keeps it.
        picker.click()
        page.get_by_role("option", name="मराठी").click()
        page.wait_for_function("() => document.body.dataset.language === 'mr'", timeout=PAGE_LOAD_TIMEOUT_MS)
        expect(page.get_by_role("tab", name=say("mr", "chat.title"), exact=True)).to_be_visible()
        page.reload()
        assert language_shown(page) == "mr"
        expect(page.locator("#language-picker input")).to_have_value("मराठी")
    finally:
        page.context.close()


@pytest.mark.parametrize("code", OTHERS)
def test_no_english_is_left_on_any_tab(browser, url: str, code: str) -> None:
    page = open_page(browser, url, chosen=code)
    try:
        assert language_shown(page) == code
        titles = tab_titles(page)
        assert say(code, "chat.title") in titles and say(code, "models.title") in titles, titles
        found: dict[str, list[str]] = {}
        for index, title in enumerate(titles):
            open_tab_titled(page, title)
            page.wait_for_timeout(300)
            open_every_fold(page)
            page.wait_for_timeout(300)
            shot(page, f"language-{code}-{index}")
            left = leftovers(page, code)
            if left:
                found[title] = left
        # A reply's metrics line, made on the server, in the page's language too.
        open_tab_titled(page, titles[0])
        set_max_new_tokens(page, 8)
        send(page, "Hi")
        try:
            expect(page.locator("#chatbot [data-testid='bot'] sub").first).to_be_visible(timeout=STREAM_TIMEOUT_MS)
        finally:
            shot(page, f"language-{code}-reply")
        page.wait_for_timeout(500)
        left = leftovers(page, code)
        if left:
            found["after a reply"] = left
        assert not found, f"{code}: English left on the page: {found}"
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["desktop", "phone"])
def test_urdu_reads_right_to_left(browser, url: str, viewport: dict[str, int]) -> None:
    page = open_page(browser, url, chosen="ur", viewport=viewport)
    english = open_page(browser, url, chosen="en", viewport=viewport)
    try:
        assert language_shown(page) == "ur" and language_shown(english) == "en"
        assert page.evaluate("() => document.documentElement.dir") == "rtl"
        assert english.evaluate("() => document.documentElement.dir") == "ltr"
        for each in (page, english):
            settle(each, "#language-picker")

        def picker_left_of_title(each: Page) -> bool:
            picker = each.locator("#language-picker").bounding_box()
            title = each.locator("#app-title").bounding_box()
            return picker["x"] < title["x"]

        # The header mirrors: the picker sits at the right in English, at the left in Urdu.
        assert not picker_left_of_title(english)
        assert picker_left_of_title(page)
        # The message box writes from the right.
        direction = chat_input(page).evaluate("(box) => getComputedStyle(box).direction")
        assert direction == "rtl"
        shot(page, f"language-ur-{'phone' if viewport is PHONE else 'desktop'}")
    finally:
        page.context.close()
        english.context.close()
