"""Words in the learners' languages: the message files, the sentence made from a key and its numbers.

Every sentence a person reads is a key plus parameters until it is shown: errors, notices and
metrics carry a `Said` (key and params), and the edge that shows them calls `say(language, key,
**params)`. The words live in `locales/<language>/<namespace>.toml`, one flat table of keys per
file; key `chat.send` is `send` in `chat.toml`. A template is a `str.format` string with named
fields (`"{tokens:,} tokens"`); every language has the same keys and the same fields as English
(a test checks), and the terms in `locales/glossary.toml` are said the same way everywhere.

    say("sw", "chat.send")                      -> "Tuma"
    say("en", "reply.tokens", tokens=1024)      -> "1,024 tokens"
    Said("error.prompt_too_long", limit=4096)   -> words made later, in the reader's language

A key missing in a language falls back to English; an unknown key is a bug and shows as the key
itself (logged). Which language a reader wants is `choose` (a choice they made, else their
browser's Accept-Language); the browser's side (labels through `gr.I18n`, right to left) is
`tabs/i18n.py`. This module knows nothing about Gradio.
"""

from __future__ import annotations

import functools
import logging
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)

LOCALES = Path(__file__).with_name("locales")
GLOSSARY = LOCALES / "glossary.toml"


@dataclass(frozen=True)
class Language:
    code: str  # the folder under locales/ and the browser-side locale (Gradio's own strings use the same codes)
    name: str  # in the language itself, for the picker
    english: str
    rtl: bool = False
    # Browser language tags that mean this language (lower case, primary subtags match their regional forms).
    tags: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", tags=("en",)),
    Language("zh-CN", "简体中文", "Chinese (Simplified)", tags=("zh",)),
    Language("sw", "Kiswahili", "Swahili", tags=("sw",)),
    Language("tl", "Tagalog", "Tagalog", tags=("tl", "fil")),
    Language("ms", "Bahasa Melayu", "Malay", tags=("ms",)),
    Language("ur", "اردو", "Urdu", rtl=True, tags=("ur",)),
    Language("mr", "मराठी", "Marathi", tags=("mr",)),
)
BY_CODE: Mapping[str, Language] = MappingProxyType({language.code: language for language in LANGUAGES})
DEFAULT = "en"


def language(code: str | None) -> Language:
    """The language with `code`, or English for anything unknown."""
    return BY_CODE.get(code or "", BY_CODE[DEFAULT])


def match(tag: str) -> str | None:
    """The supported language a browser language tag means ("sw-KE" -> "sw", "zh-TW" -> "zh-CN"), if any."""
    tag = tag.strip().lower().replace("_", "-")
    if not tag:
        return None
    for lang in LANGUAGES:
        if tag == lang.code.lower():
            return lang.code
    primary = tag.split("-")[0]
    for lang in LANGUAGES:
        if primary in lang.tags:
            return lang.code
    return None


def choose(accept_language: str | None, chosen: str | None = None) -> str:
    """The language to speak: the reader's own choice if it is one we have, else the first of their browser's
    languages (Accept-Language, by quality) that we have, else English.

    Edge cases: a malformed quality counts as 0; `*` and unknown tags are skipped; an empty header is English.
    """
    if chosen and chosen in BY_CODE:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, rest = item.partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        found = match(tag)
        if found:
            return found
    return DEFAULT


# --- the words ----------------------------------------------------------------------------------


def _flatten(table: Mapping[str, Any], prefix: str, where: Path) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, key, where))
        elif isinstance(value, str):
            flat[key] = value
        else:
            raise ValueError(f"{where}: {name} must be text, got {type(value).__name__}")
    return flat


@functools.cache
def messages(code: str) -> Mapping[str, str]:
    """Every key of one language (`{}` for a language with no folder)."""
    folder = LOCALES / code
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as file:
            found.update(_flatten(tomllib.load(file), path.stem, path))
    return MappingProxyType(found)


def template(code: str | None, key: str) -> str | None:
    """The words for `key` in that language, else in English; None for a key English does not have."""
    return messages(language(code).code).get(key) or messages(DEFAULT).get(key)


def say(code: str | None, key: str, /, **params: Any) -> str:
    """The sentence `key` in language `code`, its fields filled from `params` (a `Said` among them is said in
    the same language; a list of them is joined by the language's list separator)."""
    words = template(code, key)
    if words is None:
        log.error("no words for %r", key)
        return key
    filled = {name: _said(code, value) for name, value in params.items()}
    try:
        return words.format(**filled)
    except (KeyError, IndexError, ValueError):  # a translation with a broken field: English rather than nothing
        log.exception("the %s words for %r do not fit its fields", code, key)
        return (messages(DEFAULT).get(key) or key).format(**filled)


def _said(code: str | None, value: Any) -> Any:
    if isinstance(value, Said):
        return value.text(code)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Said) for v in value):
        return say(code, "common.list_separator").join(str(_said(code, v)) for v in value)
    return value


@dataclass(frozen=True)
class Said:
    """Words yet to be made: a key and its numbers, said in the reader's language where they are shown.
    `str()` is English (logs, the OpenAI API, tests)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, code: str | None = None) -> str:
        return say(code, self.key, **self.params)

    def __str__(self) -> str:
        return self.text(DEFAULT)


def fields_of(words: str) -> set[str]:
    """The named fields a template uses ("{tokens:,} of {window:,}" -> {"tokens", "window"})."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(words) if name}


@functools.cache
def glossary() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """Each term's accepted forms per language: {"token": {"en": ("token",), "sw": ("tokeni",), ...}}."""
    with GLOSSARY.open("rb") as file:
        data = tomllib.load(file)
    return MappingProxyType({term: MappingProxyType({code: tuple(forms) if isinstance(forms, list) else (forms,)
                                                     for code, forms in entry.items() if code != "note"})
                             for term, entry in data.items()})
