"""Errors and notes say themselves through message keys: every key the code raises exists in English with the
fields the call passes, no error made in playground/ is an English sentence, and errors say themselves in the
reader's language while `str()` stays English.

The first part reads the source (Python's `ast`), so a typo'd key fails here and not in front of a learner. It
knows the error classes by following `class X(PlaygroundError)` through the source, and it follows the small
helpers that prefix a namespace (`_said("wall_time")` in the sandbox is `sandbox.wall_time`).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from playground import i18n
from playground.backends.remote import RemoteError, failure_text, http
from playground.catalog import parse_catalog
from playground.errors import DoesNotFitError, InvalidRequestError
from playground.i18n import fields_of, messages
from playground.media import MediaError, probe
from playground.memory import probe as probe_memory
from playground.registry import Registry
from playground.requests import Request, Sampling
from tests.fakes import FakeLoader

ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND = sorted((ROOT / "playground").rglob("*.py"))
TABS = sorted((ROOT / "tabs").rglob("*.py"))
KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
# Data files read by whoever starts the app, before any reader's language is known: their errors stay English.
OPERATOR_ERRORS = {"CatalogError", "GuideError"}


def parsed(paths: list[Path]) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in paths}


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of PlaygroundError and every class that derives from it, anywhere in the source."""
    known, grown = {"PlaygroundError"}, True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in known and any(
                        _name(base) in known for base in node.bases):
                    known.add(node.name)
                    grown = True
    return known


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def helpers(tree: ast.Module) -> dict[str, tuple[str, set[str]]]:
    """A module's functions that make words from a namespace and their first argument (`Said(f"ns.{key}", ...)`
    or `say(language, f"ns.{key}", ...)`): name -> (the namespace's prefix, the params they add themselves)."""
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or not node.args.args:
            continue
        first = node.args.args[0].arg
        for call in ast.walk(node):
            if not isinstance(call, ast.Call):
                continue
            at = {"Said": 0, "say": 1}.get(_name(call.func) or "")
            if at is None or len(call.args) <= at or not isinstance(call.args[at], ast.JoinedStr):
                continue
            parts = call.args[at].values
            if (len(parts) == 2 and isinstance(parts[0], ast.Constant)
                    and isinstance(parts[1], ast.FormattedValue) and _name(parts[1].value) == first):
                added = _literal_keys(call.args[1:]) if at == 0 else {k.arg for k in call.keywords if k.arg}
                found[node.name] = (parts[0].value, added)
    return found


def _literal_keys(args: list[ast.expr]) -> set[str]:
    """The parameter names of a dict literal given as a Said's params (a `**` splat inside adds none)."""
    if args and isinstance(args[0], ast.Dict):
        return {k.value for k in args[0].keys if isinstance(k, ast.Constant)}
    return set()


def _opaque(args: list[ast.expr]) -> bool:
    """Params we cannot read: a variable, or a dict with a `**` splat."""
    return bool(args) and (not isinstance(args[0], ast.Dict) or any(k is None for k in args[0].keys))


def calls(paths: list[Path]) -> Iterator[tuple[str, str, str | None, set[str] | None, str]]:
    """Each place a message is made: (where, what makes it, its key or None, the params it passes or None where
    they cannot be read, how the first argument is written: "key", "sentence", "pattern" or "other")."""
    trees = parsed(PLAYGROUND + TABS)
    errors = error_classes(trees)
    for path in paths:
        made_by = helpers(trees[path])
        for node in ast.walk(trees[path]):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, first = _name(node.func), node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in errors or name == "Said":
                splat = any(k.arg is None for k in node.keywords)
                params: set[str] | None
                if name == "Said":
                    params = None if _opaque(node.args[1:]) else _literal_keys(node.args[1:])
                else:
                    params = None if splat else {k.arg for k in node.keywords}
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    kind = "key" if KEY.fullmatch(first.value) else "sentence"
                    yield where, name, first.value if kind == "key" else None, params, kind
                elif isinstance(first, ast.JoinedStr):
                    pattern = _pattern(first)
                    kind = "pattern" if pattern else "sentence"
                    yield where, name, pattern.pattern if pattern else None, params, kind
                else:
                    yield where, name, None, params, "other"
            elif name in made_by and isinstance(first, ast.Constant) and isinstance(first.value, str):
                prefix, added = made_by[name]
                splat = any(k.arg is None for k in node.keywords)
                yield where, name, prefix + first.value, None if splat else added | {k.arg for k in node.keywords}, \
                    "key"


def _pattern(node: ast.JoinedStr) -> re.Pattern[str] | None:
    """A key with parts filled in at run time (f"media.{what}_too_big"), as a regex; None for an f-string sentence."""
    pattern = ""
    for part in node.values:
        if isinstance(part, ast.Constant):
            if not re.fullmatch(r"[a-z0-9_.]*", part.value):
                return None
            pattern += re.escape(part.value)
        else:
            pattern += "[a-z0-9_]+"
    return re.compile(pattern) if "." in pattern else None


def test_the_source_check_finds_what_it_looks_for() -> None:
    """The walker is not vacuous: it sees the raises this test file knows are there."""
    found = {(where.split(":")[0], key, kind) for where, _, key, _, kind in calls(PLAYGROUND)}
    assert ("playground/media.py", "media.not_found", "key") in found
    assert ("playground/tasks/sandbox.py", "sandbox.wall_time", "key") in found  # through the _said helper
    assert ("playground/backends/remote.py", "remote.rate_limited", "key") in found  # through the said helper
    assert ("playground/catalog.py", None, "sentence") in found  # CatalogError's English, which is allowed


def test_every_key_an_error_or_note_uses_has_english_words_and_its_fields() -> None:
    english = messages("en")
    wrong = []
    for where, maker, key, params, kind in calls(PLAYGROUND + TABS):
        if kind != "key":
            continue
        if key not in english:
            wrong.append(f"{where}: {maker}({key!r}): no such key in locales/en")
        elif params is not None and not fields_of(english[key]) <= params:
            wrong.append(f"{where}: {maker}({key!r}) lacks {sorted(fields_of(english[key]) - params)}")
    assert not wrong, "\n".join(wrong)


def test_keys_made_from_parts_match_some_english_key() -> None:
    english = messages("en")
    wrong = []
    for where, maker, pattern, params, kind in calls(PLAYGROUND + TABS):
        if kind != "pattern":
            continue
        keys = [key for key in english if re.fullmatch(pattern, key)]
        if not keys:
            wrong.append(f"{where}: {maker}({pattern}): no English key matches")
        elif params is not None and not any(fields_of(english[key]) <= params for key in keys):
            wrong.append(f"{where}: {maker}({pattern}): no key it can be has only the fields {sorted(params)}")
    assert not wrong, "\n".join(wrong)


def test_no_error_made_in_playground_is_an_english_sentence() -> None:
    sentences = [f"{where}: {maker}(...)" for where, maker, _, _, kind in calls(PLAYGROUND)
                 if kind == "sentence" and maker not in OPERATOR_ERRORS]
    assert not sentences, "errors a person reads must be keys (locales/en):\n" + "\n".join(sentences)


def test_a_key_english_lacks_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    error = InvalidRequestError("request.no_such_key", n=1)
    assert str(error) == "request.no_such_key" and "no English words for the error key" in caplog.text


# --- said in another language -------------------------------------------------------------------------------


def wrapped(table: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[str]:
    """TOML lines of a stand-in language: each English template inside «», so a sentence shows where it was made."""
    for name, value in table.items():
        if isinstance(value, dict):
            yield from wrapped(value, (*path, name))
        else:
            key = ".".join(json.dumps(part) for part in (*path, name))
            yield f"{key} = {json.dumps('«' + value + '»', ensure_ascii=False)}\n"  # JSON's strings are TOML's too


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A locale folder of our own: English as it is, and "sw" with every English template inside «»."""
    shutil.copytree(i18n.LOCALES / "en", tmp_path / "en")
    (tmp_path / "sw").mkdir()
    for path in (i18n.LOCALES / "en").glob("*.toml"):
        with path.open("rb") as file:
            (tmp_path / "sw" / path.name).write_text("".join(wrapped(tomllib.load(file))), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.messages.cache_clear()
    yield "sw"
    i18n.messages.cache_clear()


def test_a_media_error_says_itself_in_the_readers_language(stand_in: str, tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "notes").write_bytes(b"?")
    with pytest.raises(MediaError) as pdf:
        probe(tmp_path / "notes.pdf")
    with pytest.raises(MediaError) as bare:
        probe(tmp_path / "notes")
    assert str(pdf.value).startswith("notes.pdf: .pdf is not supported here. Upload an image")
    assert pdf.value.text(stand_in).startswith("«notes.pdf: .pdf is not supported here.")
    assert pdf.value.text(stand_in).endswith("(MP4, WebM, MOV, MKV, AVI).»")
    # A word made inside the sentence is said in the same language.
    assert bare.value.text(stand_in).startswith("«notes: «files without an extension» is not supported")
    assert str(bare.value).startswith("notes: files without an extension is not supported")


def test_a_does_not_fit_error_says_itself_with_its_numbers(stand_in: str) -> None:
    arch = {"layers": 4, "attention_heads": 4, "kv_heads": 2, "head_dim": 8, "hidden_size": 32,
            "intermediate_size": 64, "vocab_size": 100, "tie_word_embeddings": True}
    catalog = parse_catalog({"models": {"big": {"source": "Qwen/big", "tasks": ["chat"], "params_billion": 3.0,
                                                "context_length": 1024, "architecture": arch}}})
    registry = Registry(catalog, FakeLoader(10**9))
    with pytest.raises(DoesNotFitError) as refused:
        registry.acquire("big")
    error = refused.value
    assert error.said.key == "load.does_not_fit" and error.said.params["total"] == "953.7 MiB"
    said = error.text(stand_in)
    assert said.startswith("«big does not fit: it needs about ") and said.endswith("unload models in the Models tab.»")
    assert "953.7 MiB of 953.7 MiB is free on fake" in said
    assert str(error).startswith("big does not fit: it needs about ") and "«" not in str(error)


def test_the_devices_name_is_said_where_it_is_ours(stand_in: str) -> None:
    memory = probe_memory("cpu")
    assert memory.name == "CPU RAM" and memory.words.text(stand_in) == "«CPU RAM»"  # /health keeps the English


def status_error(status: int, message: str, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = http.Response(status, headers=headers, request=http.Request("POST", "http://gpu-box:8000/v1/x"))
    return openai.APIStatusError(message, response=response, body={"error": {"message": message}})


REMOTE = parse_catalog({"models": {"far": {"backend": "openai", "base_url": "http://gpu-box:8000/v1",
                                           "model": "Qwen/Qwen3-8B", "tasks": ["chat"], "context_length": 4096}}})


def test_a_remote_error_says_itself_with_the_servers_own_words_as_they_are(stand_in: str) -> None:
    spec = REMOTE.get("far")
    error = RemoteError(failure_text(spec, status_error(429, "Slow down."), partial=True, environ={}))
    assert str(error) == ("The model server at http://gpu-box:8000/v1 is rate limiting requests (HTTP 429: Slow down): "
                          "try again in a moment. The reply above is incomplete.")
    assert error.text(stand_in) == ("«The model server at http://gpu-box:8000/v1 is rate limiting requests "
                                    "(HTTP 429: Slow down): «try again in a moment».« The reply above is incomplete.»»")
    waited = RemoteError(failure_text(spec, status_error(429, "busy", {"retry-after": "7"}), environ={}))
    assert waited.text(stand_in).endswith("(HTTP 429: busy): «try again in 7 s».»")


def test_a_request_error_names_its_field_in_the_readers_language(stand_in: str) -> None:
    request = Request("far", [{"role": "system", "content": "x\ud800"}, {"role": "user", "content": "Hi"}])
    with pytest.raises(InvalidRequestError) as bad:
        request.validated()
    assert str(bad.value).startswith("The system prompt has a character that is not valid text at position 1 ")
    assert bad.value.text(stand_in).startswith("«The «system prompt» has a character")
    with pytest.raises(InvalidRequestError) as hot:
        Sampling(temperature=3).validate()
    assert str(hot.value) == "temperature must be at least 0 and at most 2, got 3."
    assert hot.value.text(stand_in) == "«temperature must be at least 0 and at most 2, got 3.»"

