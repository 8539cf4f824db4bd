"""The page in the reader's language: labels through `gr.I18n`, server-made words per session, right to left.

Two kinds of words reach the browser:

- *Fixed words* (labels, info lines, buttons, tab titles, help text) are `t("chat.send")`: a
  `gr.I18n` key that the browser translates itself. `translations()` is what the app gives
  `launch(i18n=...)`: every key a tab used, in every language, plus Gradio's own words
  (`locales/<language>/gradio.toml`) for the languages Gradio does not ship.
- *Made words* (a reply's metrics, errors, notices, picker labels, examples) are made on the
  server with `say(language_of(request), key, **params)`, in the language of the session
  that asked.

The language is chosen once per page: `Page.build` adds the picker (top right) and the page's
first event, which asks the browser (`DETECT_JS`: the reader's saved choice, else the first of
the browser's languages we have, else English), switches Gradio's own locale to it, sets `lang`
and `dir` on the page (Urdu reads right to left), and tells the server, which keeps it per session.
Everything a tab does when the page opens runs after that (`Page.load`), so it is said in that
language. Picking another language saves it in the browser and reloads the page; conversations
and settings are kept in the browser, so nothing is lost.

API callers (gradio_client) have no page: they get the language of their Accept-Language header,
else English.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from playground.i18n import BY_CODE, DEFAULT, LANGUAGES, Said, choose, language, messages, say

__all__ = ["Page", "language_of", "say", "t", "text_of", "translations", "words"]

STORAGE_KEY = "qwen-playground-language"
GRADIO_PREFIX = "gradio."  # keys of Gradio's own words, sent to the browser without this prefix


# --- fixed words ---------------------------------------------------------------------------------


class _Keys:
    """The keys the tabs used for fixed words (`t`), so the browser is sent those and no others."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, key: str) -> I18nData:
        if key not in messages(DEFAULT):
            raise KeyError(f"no English words for {key!r}: add it to playground/locales/en/")
        self.used.add(key)
        return I18nData(key)


t = _Keys()  # t("chat.send"): a label the browser shows in the reader's language


def translations() -> gr.I18n:
    """For `launch(i18n=...)`: the used keys in every language (English where a language lacks one), and
    Gradio's own words for the languages Gradio has none of."""
    table: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        own = messages(lang.code)
        words = {key: own.get(key) or messages(DEFAULT)[key] for key in t.used}
        words.update({key[len(GRADIO_PREFIX):]: value for key, value in own.items() if key.startswith(GRADIO_PREFIX)})
        table[lang.code] = words
    return gr.I18n(**table)


def text_of(value: Any, code: str | None = DEFAULT) -> str:
    """A component's label or value as a person reads it: an `I18nData` said in `code`, text as it is."""
    if isinstance(value, I18nData):
        return say(code, value.key)
    if isinstance(value, str) and value.startswith("__i18n__"):
        return say(code, json.loads(value[len("__i18n__"):])["key"])
    return "" if value is None else str(value)


# --- made words ----------------------------------------------------------------------------------


class _Sessions:
    """Each page's language (by Gradio session), as the page told it when it opened.

    Module-wide because Gradio hands a handler its request (the session) but no per-session store
    outside the event's inputs; `Page` is its only writer. Bounded, and emptied as pages close.
    """

    LIMIT = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._languages: OrderedDict[str, str] = OrderedDict()

    def set(self, session: str, code: str) -> None:
        with self._lock:
            self._languages[session] = code
            self._languages.move_to_end(session)
            while len(self._languages) > self.LIMIT:
                self._languages.popitem(last=False)

    def get(self, session: str | None) -> str | None:
        with self._lock:
            return self._languages.get(session or "")

    def forget(self, session: str | None) -> None:
        with self._lock:
            self._languages.pop(session or "", None)


SESSIONS = _Sessions()


def language_of(request: gr.Request | None) -> str:
    """The language to make words in for this request: its page's, else its Accept-Language, else English."""
    if request is None:
        return DEFAULT
    found = SESSIONS.get(getattr(request, "session_hash", None))
    if found:
        return found
    headers = getattr(request, "headers", None) or {}
    return choose(headers.get("accept-language"))


def words(key: str, /, **params: Any) -> Callable[..., str]:
    """A handler that says `key` in the request's language (for a `Page.load` that fills a fixed text)."""

    def handler(request: gr.Request) -> str:
        return say(language_of(request), key, **params)

    return handler


def said(value: Said | str, request: gr.Request | None) -> str:
    """`value` in the request's language (text as it is)."""
    return value.text(language_of(request)) if isinstance(value, Said) else value


# --- the page ------------------------------------------------------------------------------------

_CODES = [lang.code for lang in LANGUAGES]
_RTL = [lang.code for lang in LANGUAGES if lang.rtl]
_TAGS = {tag: lang.code for lang in LANGUAGES for tag in (lang.code.lower(), *lang.tags)}

# Runs in the browser before the page's first event: the language, applied to the page, sent to the server.
DETECT_JS = """(current) => {
    const codes = __CODES__, rtl = __RTL__, tags = __TAGS__;
    const pick = (tag) => {
        tag = (tag || '').toLowerCase().replace('_', '-');
        return tags[tag] || tags[tag.split('-')[0]] || null;
    };
    let saved = null;
    try { saved = localStorage.getItem(__KEY__); } catch (e) {}
    let lang = codes.includes(saved) ? saved : null;
    for (const tag of navigator.languages || [navigator.language]) { if (!lang) lang = pick(tag); }
    lang = lang || 'en';
    document.documentElement.lang = lang;
    document.documentElement.dir = rtl.includes(lang) ? 'rtl' : 'ltr';
    document.body.classList.toggle('rtl', rtl.includes(lang));
    // Gradio's own locale (its words and every gr.I18n label): its core module is already loaded, so
    // importing it again gives the running instance.
    const core = performance.getEntriesByType('resource').map((e) => e.name)
        .find((name) => /\\/assets\\/core-[^/]*\\.js$/.test(name));
    if (core) {
        import(core).then((m) => m.changeLocale && m.changeLocale(lang))
            .finally(() => { document.body.dataset.language = lang; });
    } else { document.body.dataset.language = lang; }
    return lang;
}"""
for _name, _value in {"__CODES__": _CODES, "__RTL__": _RTL, "__TAGS__": _TAGS, "__KEY__": STORAGE_KEY}.items():
    DETECT_JS = DETECT_JS.replace(_name, json.dumps(_value))

CHOOSE_JS = """(lang) => {
    try { localStorage.setItem(__KEY__, lang); } catch (e) {}
    location.reload();
    return lang;
}""".replace("__KEY__", json.dumps(STORAGE_KEY))

# Components that have Gradio's `rtl` switch: in a right-to-left language their text aligns and flows right.
RTL_COMPONENTS = (gr.Chatbot, gr.Markdown, gr.Textbox, gr.Radio, gr.MultimodalTextbox)


def remember(code: str | None, request: gr.Request | None = None) -> str:
    """The page's first event: keep the language it reported for its session, and show it in the picker."""
    code = code if code in BY_CODE else language_of(request)
    if request is not None and getattr(request, "session_hash", None):
        SESSIONS.set(request.session_hash, code)
    return code


def forget(request: gr.Request | None = None) -> None:
    if request is not None:
        SESSIONS.forget(getattr(request, "session_hash", None))


@dataclass
class Page:
    """The page tabs are built on: its Blocks and the moment its language is known.

    `load(fn, inputs, outputs)` runs `fn` when the page opens, after the language: use it instead of
    `demo.load` for anything that makes words. `finish()` (once every tab is built) turns the text of
    right-to-left pages around.
    """

    demo: gr.Blocks
    picker: gr.Dropdown
    ready: Any  # the event after which the session's language is known
    _rtl: list[gr.components.Component] = field(default_factory=list)
    _tabs: list[gr.Tab] = field(default_factory=list)

    @classmethod
    def build(cls, demo: gr.Blocks) -> Page:
        """The language picker where it is built, and the page's first event."""
        picker = gr.Dropdown(choices=[(lang.name, lang.code) for lang in LANGUAGES], value=None,
                             label=t("app.language"), show_label=False, container=False, scale=0, min_width=160,
                             elem_id="language-picker", interactive=True)
        ready = demo.load(remember, picker, picker, js=DETECT_JS, api_visibility="private", queue=False)
        picker.input(None, picker, None, js=CHOOSE_JS, api_visibility="private", queue=False)
        demo.unload(forget)
        return cls(demo, picker, ready)

    def load(self, fn: Callable[..., Any], inputs: Any = None, outputs: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("api_visibility", "private")
        return self.ready.then(fn, inputs, outputs, **kwargs)

    def finish(self, components: Iterable[gr.components.Component] | None = None) -> None:
        """Right to left for the components that have the switch (all of the page's, by default), and the tab
        titles said on the server."""
        found = list(components if components is not None else self.demo.blocks.values())
        self._rtl = [c for c in found if isinstance(c, RTL_COMPONENTS) and not isinstance(c, gr.Code)]
        if self._rtl:
            self.load(self._direction, None, self._rtl, queue=False)
        # Gradio's tab bar keeps the titles it was first drawn with: the browser's switch to the page's language
        # comes too late for it (only the open tab's title follows). Said on the server, every title does.
        self._tabs = [tab for tab in found if isinstance(tab, gr.Tab) and isinstance(tab.label, I18nData)]
        if self._tabs:
            self.load(self._titles, None, self._tabs, queue=False)

    def _direction(self, request: gr.Request) -> list[Any]:
        rtl = language(language_of(request)).rtl
        return [gr.update(rtl=True) if rtl else gr.skip() for _ in self._rtl]

    def _titles(self, request: gr.Request) -> list[Any]:
        code = language_of(request)
        return [gr.Tab(label=say(code, tab.label.key)) for tab in self._tabs]
