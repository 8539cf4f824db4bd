"""Every language has every word, with the same fields, and says the glossary's terms the glossary's way.

These tests fail while a namespace is untranslated: that is their job. Their messages list what is
missing, by language and namespace, so a translator sees the whole of the work at once.

Gradio's own words (buttons, upload hints, the queue's "In queue") come from its frontend bundle:
the languages it ships are `lang/<code>.json` entries in `core-*.js`; its English words are the
object literals in that module. For our languages it does not ship, `locales/<code>/gradio.toml`
must have every one of them (nested tables, as Gradio nests them); for those it ships, whatever its
own file lacks.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio
import pytest

from playground import i18n
from playground.i18n import BY_CODE, DEFAULT, GLOSSARY, LANGUAGES, Said, choose, fields_of, match, messages

OTHERS = [lang.code for lang in LANGUAGES if lang.code != DEFAULT]
GRADIO = "gradio."

# The terms the issue names: the glossary must have at least these.
REQUIRED_TERMS = {
    "thinking", "thinking budget", "token", "precision", "context window", "model", "prompt", "system prompt",
    "reply", "temperature", "sampling", "seed", "stop", "send", "load", "unload", "memory", "GPU", "quantization",
    "bits", "catalogue", "queue", "chat", "example", "image", "video", "code", "math", "snippet", "copy as code",
    "workshop", "admin token", "model guide",
}


def ours(code: str) -> dict[str, str]:
    """A language's keys, without Gradio's own words (those are checked against Gradio's English)."""
    return {key: words for key, words in messages(code).items() if not key.startswith(GRADIO)}


def by_namespace(keys: set[str]) -> str:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in sorted(keys):
        namespace, _, rest = key.partition(".")
        grouped[namespace].append(rest)
    return "; ".join(f"{namespace}.toml: {', '.join(rest)}" for namespace, rest in sorted(grouped.items()))


# --- every key, the same fields ---------------------------------------------------------------------


def test_english_has_words() -> None:
    english = ours(DEFAULT)
    assert {"app.title", "chat.send", "reply.tokens", "error.unknown_model"} <= set(english)


@pytest.mark.parametrize("code", OTHERS)
def test_every_english_key_is_translated(code: str) -> None:
    missing = set(ours(DEFAULT)) - set(ours(code))
    assert not missing, f"{code} lacks {len(missing)} keys: {by_namespace(missing)}"


@pytest.mark.parametrize("code", OTHERS)
def test_no_key_that_english_lacks(code: str) -> None:
    extra = set(ours(code)) - set(ours(DEFAULT))
    assert not extra, f"{code} has keys English lacks (renamed or removed there?): {by_namespace(extra)}"


def sample(words: str) -> dict[str, Any]:
    """Values for a template's fields that its format specs accept: numbers where the spec is numeric."""
    params: dict[str, Any] = {}
    for _, name, spec, _ in string.Formatter().parse(words):
        if name:
            params[name.split(".")[0].split("[")[0]] = 1234 if spec and spec[-1] in ",dfFeEgGn%" else "x"
    return params


@pytest.mark.parametrize("code", OTHERS)
def test_translations_use_the_same_fields_and_format(code: str) -> None:
    english, own = ours(DEFAULT), ours(code)
    wrong: list[str] = []
    for key in sorted(set(english) & set(own)):
        if fields_of(own[key]) != fields_of(english[key]):
            wrong.append(f"{key}: fields {sorted(fields_of(own[key]))}, English has {sorted(fields_of(english[key]))}")
            continue
        try:
            own[key].format(**sample(english[key]))
        except (KeyError, IndexError, ValueError) as error:
            wrong.append(f"{key}: does not format ({error!r})")
    assert not wrong, f"{code}:\n" + "\n".join(wrong)


def test_sample_values_fit_every_english_template() -> None:
    for words in ours(DEFAULT).values():
        words.format(**sample(words))  # a template our sample cannot fill would make the test above meaningless


# --- the glossary -----------------------------------------------------------------------------------


def literal(words: str) -> str:
    """The words a reader sees, without `{fields}` and `code spans` (those stay as they are in every language)."""
    text = "".join(part for part, _, _, _ in string.Formatter().parse(words))
    return re.sub(r"`[^`]*`", " ", text)


def icu_literal(words: str) -> str:
    """Gradio's words (ICU message format) without their `{fields}`."""
    return re.sub(r"\{[^{}]*\}", " ", words)


def terms_in(english: str, glossary: Mapping[str, Mapping[str, tuple[str, ...]]]) -> set[str]:
    """The terms an English text uses (whole words, any case). A longer term hides the shorter ones inside it:
    "thinking budget" is its own term, not also "thinking"; "admin token" is not an ML token."""
    forms = sorted(((form, term) for term, by_code in glossary.items() for form in by_code[DEFAULT]),
                   key=lambda pair: -len(pair[0]))
    text, found = english, set()
    for form, term in forms:
        pattern = re.compile(rf"(?<!\w){re.escape(form)}(?!\w)", re.IGNORECASE)
        if pattern.search(text):
            found.add(term)
            text = pattern.sub(lambda m: " " * len(m.group()), text)
    return found


def violations(english: Mapping[str, str], translated: Mapping[str, str], code: str,
               glossary: Mapping[str, Mapping[str, tuple[str, ...]]], strip=literal) -> list[str]:
    """Where a translation does not use the accepted form of a term its English uses."""
    found = []
    for key in sorted(set(english) & set(translated)):
        said = strip(translated[key]).lower()
        for term in sorted(terms_in(strip(english[key]), glossary)):
            accepted = glossary[term][code]
            if not any(form.lower() in said for form in accepted):
                found.append(f"{code} {key}: {term!r} should be one of {list(accepted)}: {translated[key]!r}")
    return found


def test_the_glossary_has_the_issues_terms_in_every_language_with_a_note() -> None:
    with GLOSSARY.open("rb") as file:
        raw = tomllib.load(file)
    glossary = i18n.glossary()
    missing = REQUIRED_TERMS - set(glossary)
    assert not missing, f"missing terms: {sorted(missing)}"
    problems = []
    for term, by_code in glossary.items():
        if not str(raw[term].get("note", "")).strip():
            problems.append(f"{term}: no note")
        for lang in LANGUAGES:
            forms = by_code.get(lang.code, ())
            if not forms or not all(isinstance(form, str) and form.strip() for form in forms):
                problems.append(f"{term}: no form for {lang.code}")
        if set(by_code) - set(BY_CODE):
            problems.append(f"{term}: unknown languages {sorted(set(by_code) - set(BY_CODE))}")
    assert not problems, "\n".join(problems)


def test_the_glossary_check_finds_a_wrong_term_and_respects_longer_terms() -> None:
    glossary = {"token": {"en": ("token", "tokens"), "sw": ("tokeni",)},
                "admin token": {"en": ("admin token",), "sw": ("tokeni ya msimamizi",)},
                "thinking": {"en": ("thinking",), "sw": ("fikiri",)}}
    english = {"a": "{tokens:,} tokens", "b": "Enter the admin token", "c": "`thinking` mode", "d": "Tokens left"}
    good = {"a": "tokeni {tokens:,}", "b": "Weka tokeni ya msimamizi", "c": "hali ya `thinking`",
            "d": "Tokeni zilizobaki"}
    assert violations(english, good, "sw", glossary) == []
    bad = {"a": "alama {tokens:,}", "b": "Weka tokeni", "c": "x", "d": "Vipande"}
    assert [line.split(":")[0] for line in violations(english, bad, "sw", glossary)] == \
        ["sw a", "sw b", "sw d"]  # the field {tokens} is not the word; `thinking` is code, not the term


@pytest.mark.parametrize("code", OTHERS)
def test_translations_use_the_glossarys_terms(code: str) -> None:
    glossary = i18n.glossary()
    found = violations(ours(DEFAULT), ours(code), code, glossary)
    # Gradio's own words that we translate (locales/<code>/gradio.toml) follow the glossary too.
    own = {key[len(GRADIO):]: words for key, words in messages(code).items() if key.startswith(GRADIO)}
    found += violations(gradio_words("en"), own, code, glossary, strip=icu_literal)
    assert not found, f"{len(found)} terms not said the glossary's way:\n" + "\n".join(found)


# --- choosing the language ---------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    ("sw-KE,sw;q=0.9,en;q=0.8", "sw"),
    ("en;q=0.5, ur;q=0.9", "ur"),          # quality, not order
    ("de-DE, mr;q=0.3, en;q=0.2", "mr"),   # the first we have, by quality
    ("zh-TW,zh;q=0.9", "zh-CN"),           # any Chinese reads simplified here
    ("fil-PH", "tl"),                      # Filipino is Tagalog's standard form
    ("ms-MY,en;q=0.5", "ms"),
    ("ur-PK", "ur"),
    ("de-DE,fr;q=0.9", "en"),              # nothing we have
    ("*", "en"),
    ("", "en"),
    (None, "en"),
    ("sw;q=abc, ms;q=0.1", "ms"),          # a malformed quality counts as 0
])
def test_choose_reads_accept_language(header: str | None, expected: str) -> None:
    assert choose(header) == expected


def test_a_choice_the_reader_made_wins_if_we_have_it() -> None:
    assert choose("sw", chosen="ms") == "ms"
    assert choose("sw", chosen="xx") == "sw"
    assert choose(None, chosen="ur") == "ur"


@pytest.mark.parametrize(("tag", "expected"), [
    ("zh-CN", "zh-CN"), ("ZH_cn", "zh-CN"), ("zh-Hant-TW", "zh-CN"), ("sw-TZ", "sw"), ("fil", "tl"),
    ("tl-PH", "tl"), ("mr-IN", "mr"), ("EN-gb", "en"), ("urd", None), ("swa", None), ("", None), ("  ", None),
])
def test_match(tag: str, expected: str | None) -> None:
    assert match(tag) == expected


def test_only_urdu_reads_right_to_left() -> None:
    assert [lang.code for lang in LANGUAGES if lang.rtl] == ["ur"]
    assert [lang.code for lang in LANGUAGES] == ["en", "zh-CN", "sw", "tl", "ms", "ur", "mr"]


# --- saying a key ------------------------------------------------------------------------------------


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A locales folder of our own: English has `x.a`, `x.b`, `x.c`; Swahili has `x.a` and a broken `x.c`."""
    (tmp_path / "en").mkdir()
    (tmp_path / "sw").mkdir()
    (tmp_path / "en" / "x.toml").write_text('a = "A {n:,}"\nb = "B {who}"\nc = "C {n}"\n'
                                            'sep = "{text}"\n', encoding="utf-8")
    (tmp_path / "en" / "common.toml").write_text('list_separator = ", "\n', encoding="utf-8")
    (tmp_path / "sw" / "x.toml").write_text('a = "Sw {n:,}"\nc = "Sw {m}"\n', encoding="utf-8")
    (tmp_path / "sw" / "common.toml").write_text('list_separator = " na "\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.messages.cache_clear()
    yield tmp_path
    i18n.messages.cache_clear()


def test_say_falls_back_to_english_for_a_key_a_language_lacks(locales: Path) -> None:
    assert i18n.say("sw", "x.a", n=1024) == "Sw 1,024"
    assert i18n.say("sw", "x.b", who="mimi") == "B mimi"          # missing in Swahili: English
    assert i18n.say("sw", "x.c", n=3) == "C 3"                    # a broken Swahili field: English
    assert i18n.say("xx", "x.a", n=5) == "A 5"                    # an unknown language: English
    assert i18n.say("sw", "x.nothing") == "x.nothing"             # an unknown key: the key itself


def test_said_is_made_in_the_readers_language(locales: Path) -> None:
    inner = Said("x.a", {"n": 2000})
    assert i18n.say("sw", "x.b", who=inner) == "B Sw 2,000"
    assert i18n.say("sw", "x.sep", text=[inner, Said("x.a", {"n": 1})]) == "Sw 2,000 na Sw 1"
    assert str(inner) == "A 2,000"


def test_the_real_files_say_a_key_in_each_language() -> None:
    english = i18n.say(DEFAULT, "chat.send")
    for code in OTHERS:
        if "chat.send" in messages(code):
            assert i18n.say(code, "chat.send") == messages(code)["chat.send"] != english


# --- Gradio's own words ------------------------------------------------------------------------------

ASSETS = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"


class _Js:
    """Reads the object literals Gradio's bundle keeps its words in: `a=`text`,b={k:`v`,n:{...}},c={x:a}`."""

    NAME = re.compile(r"[A-Za-z_$][\w$]*")

    def __init__(self, text: str, at: int) -> None:
        self.text, self.at = text, at

    def _skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def _eat(self, token: str) -> bool:
        self._skip()
        if self.text.startswith(token, self.at):
            self.at += len(token)
            return True
        return False

    def _name(self) -> str:
        self._skip()
        found = self.NAME.match(self.text, self.at)
        assert found, f"a name expected at {self.text[self.at:self.at + 60]!r}"
        self.at = found.end()
        return found.group()

    def _string(self) -> str:
        quote = self.text[self.at]
        out, self.at = [], self.at + 1
        while self.text[self.at] != quote:
            char = self.text[self.at]
            if char == "\\":
                self.at += 1
                char = {"n": "\n", "t": "\t"}.get(self.text[self.at], self.text[self.at])
            assert not (quote == "`" and self.text.startswith("${", self.at)), "an interpolated string"
            out.append(char)
            self.at += 1
        self.at += 1
        return "".join(out)

    def value(self, names: Mapping[str, Any]) -> Any:
        self._skip()
        char = self.text[self.at]
        if char in "`\"'":
            return self._string()
        if self._eat("{"):
            table: dict[str, Any] = {}
            while not self._eat("}"):
                self._skip()
                key = self._string() if self.text[self.at] in "`\"'" else self._name()
                assert self._eat(":")
                table[key] = self.value(names)
                self._eat(",")
            return table
        return names[self._name()]  # a name declared before

    def declarations(self) -> dict[str, Any]:
        """`a=...,b=...` until the table of every word (the one with `_name`)."""
        names: dict[str, Any] = {}
        while True:
            name = self._name()
            assert self._eat("="), f"not a declaration at {self.text[self.at - 20:self.at + 40]!r}"
            names[name] = self.value(names)
            if isinstance(names[name], dict) and "_name" in names[name]:
                return names[name]
            assert self._eat(","), f"the words end before their table at {self.text[self.at:self.at + 60]!r}"


def _flat(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _core() -> str:
    found = sorted(ASSETS.glob("core-*.js"))
    assert len(found) == 1, f"Gradio's core module: {found}"
    return found[0].read_text(encoding="utf-8")


def shipped_languages() -> dict[str, str]:
    """The languages Gradio ships, each with the asset its words are in."""
    return dict(re.findall(r'"\./lang/([\w-]+)\.json":\(\)=>\w+\(\(\)=>import\(`\./([^`]+)`\)', _core()))


def gradio_words(code: str) -> dict[str, str]:
    """Gradio's own words in a language it ships, flat ("chatbot.retry": "Retry")."""
    if code == "en":  # English is built into the core module, right after the language's name
        text = _core()
        start = re.search(r"[,{;\s]([A-Za-z_$][\w$]*=`English`,)", text)
        assert start, "Gradio's English words were not found in its core module"
        return _flat(_Js(text, start.start(1)).declarations())
    text = (ASSETS / shipped_languages()[code]).read_text(encoding="utf-8")
    assert text.startswith("var "), f"{code}: an unexpected bundle"
    return _flat(_Js(text, len("var ")).declarations())


SHIPPED = {code for code in BY_CODE if code in shipped_languages()}


def test_gradio_ships_chinese_and_urdu_only() -> None:
    assert sorted(SHIPPED) == ["en", "ur", "zh-CN"]
    english = gradio_words("en")
    assert english["chatbot.retry"] == "Retry" and english["status.queue_position"] == "In queue: {position} of {size}"
    assert len(english) > 150 and gradio_words("ur")["chatbot.retry"] == "دوبارہ کوشش"


def placeholders(words: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", words))


@pytest.mark.parametrize("code", OTHERS)
def test_gradios_own_words_are_translated(code: str) -> None:
    english = gradio_words("en")
    own = {key[len(GRADIO):]: words for key, words in messages(code).items() if key.startswith(GRADIO)}
    theirs = gradio_words(code) if code in SHIPPED else {}
    missing = set(english) - set(own) - set(theirs)
    extra = set(own) - set(english)
    wrong = [f"{key}: {sorted(placeholders(own[key]))}, English has {sorted(placeholders(english[key]))}"
             for key in sorted(set(own) & set(english)) if placeholders(own[key]) != placeholders(english[key])]
    problems = ([f"missing in locales/{code}/gradio.toml: {by_namespace(missing)}"] if missing else []) + \
        ([f"keys Gradio's English lacks: {sorted(extra)}"] if extra else []) + wrong
    assert not problems, f"{code}:\n" + "\n".join(problems)
