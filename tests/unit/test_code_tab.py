"""The Code tab's handlers on scripted models: files out of the reply, the preview, Run, FIM, copy as code, and
the words of a page in another language."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import gradio as gr
import pytest

from playground import i18n
from playground.engine import Engine
from playground.i18n import say
from playground.tasks.code import Block
from playground.tasks.sandbox import Limits
from tabs.code import (
    FIM_SLOT,
    SLOT,
    build,
    code_api,
    fill,
    fim_api,
    preview_html,
    run_file,
    run_python,
    show_examples,
    write,
)
from tabs.copy_code import show_code
from tabs.i18n import Page, forget, remember
from tabs.reply import Stops
from tests.fakes import scripted_registry

PAGE = ("Here is the page:\n```html\n<!-- index.html -->\n<button id=\"b\">+1</button> <span id=\"n\">0</span>\n"
        "<script src=\"app.js\"></script>\n```\n\nAnd its script:\n```javascript\n// app.js\n"
        "b.onclick = () => n.textContent = +n.textContent + 1;\n```\nOpen it in a browser.")
SAMPLING = [0.7, 0.8, 20, 0.0, 1.05]  # the preset sliders: temperature, top-p, top-k, min-p, repetition penalty


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


# A few of the tab's words in a made-up Swahili (only English is written yet); the others fall back to English.
SWAHILI = """
type_first = "Andika ombi kwanza."
fim_done = "Katikati: tokeni {tokens}."
language = "Lugha ya programu"
example_1 = "Tengeneza darasa la kache."
"""


@pytest.fixture
def swahili(monkeypatch, tmp_path) -> Iterator[gr.Request]:
    """A request from a page whose reader picked Swahili, with `SWAHILI` as the Swahili words."""
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES / "en", locales / "en")
    (locales / "sw").mkdir()
    (locales / "sw" / "code.toml").write_text(SWAHILI, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", locales)
    i18n.messages.cache_clear()
    request = gr.Request(session_hash="a-swahili-page")
    remember("sw", request)
    yield request
    forget(request)
    i18n.messages.cache_clear()


def send(engine, message, history=(), language="HTML/CSS/JS", model="scripted-qwen3", request=None, max_new_tokens=400,
         seed=1):
    return list(write(engine, Stops(), message, list(history), [], model, language, False, max_new_tokens, seed,
                      *SAMPLING, request=request))[-1]


def on_open(demo: gr.Blocks, handler):
    """The tab's event that runs `handler` when the page opens (after its language is known)."""
    (found,) = [f.fn for f in demo.fns.values() if getattr(f.fn, "__wrapped__", None) is handler]
    return found


def test_the_reply_becomes_files_prose_and_a_sandboxed_preview(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue(PAGE)
    chat, picker, panel, download, run, preview, history, blocks, title = send(engine, "A counter page")
    assert [b.filename for b in blocks] == ["index.html", "app.js"] and picker.choices[0][0] == "index.html"
    assert panel.value.startswith("<!-- index.html -->") and panel.language == "html"
    assert "index.html" in str(download.value) and not run.visible  # Run is for Python files
    answer = chat[-2].content  # the prose, then the metrics line
    assert "📄 `index.html` (3 lines)" in answer and "📄 `app.js` (2 lines)" in answer and "<button" not in answer
    frame = preview.value
    assert 'sandbox="allow-scripts"' in frame and "allow-same-origin" not in frame
    assert "&lt;button id=&quot;b&quot;&gt;" in frame and "b.onclick" in frame  # escaped page, its script inlined
    assert history[-1] == {"role": "assistant", "content": PAGE} and title.visible


def test_a_second_turn_goes_on_from_the_first(scripted) -> None:
    engine, loader = scripted
    decoder = loader.decoder("scripted-qwen3")
    decoder.enqueue("```python\ndef search(xs, x): ...\n```", "```python\ndef test_search(): ...\n```")
    first = send(engine, "Binary search", language="Python")
    second = send(engine, "now add tests", history=first[6], language="Python")
    prompt = loader.tokenizer.decode(decoder.prompts[1].input_ids, skip_special_tokens=False)
    assert "def search(xs, x)" in prompt and "now add tests" in prompt and "Write Python code" in prompt
    assert [b.filename for b in second[7]] == ["main.py"] and second[4].visible  # a Python file can run


def test_a_python_file_runs_in_the_sandbox_with_its_output_and_status() -> None:
    output, status = run_python("for i in range(3):\n    print(i * i)")
    assert output == "0\n1\n4\n" and status.startswith("exit status 0")
    output, status = run_python("while True:\n    pass", Limits(wall_s=1, cpu_s=1))
    assert "TimeoutError" in output or "CPU time" in output
    assert status.startswith("exit status 1")
    output, status = run_python("print('x' * 5_000_000)")
    assert len(output) < 5000 and "more characters cut" in output and status.startswith("exit status 0")
    assert run_python("  ") == ("", "Nothing to run.")


def test_why_the_sandbox_stopped_a_file_is_said_in_the_readers_language() -> None:
    """The code's own words stay as they are; the sandbox's reason for stopping it follows the page."""
    greedy = [Block("python", "x = bytearray(8 * 2**30)", "greedy.py", True, 0, 0)]
    page = gr.Request(session_hash="a-marathi-page")
    remember("mr", page)
    try:
        output, _ = run_file("greedy.py", greedy, request=page)
    finally:
        forget(page)
    assert output.value == "MemoryError: " + say("mr", "sandbox.memory", size="1.0 GiB")
    english, _ = run_file("greedy.py", greedy)
    assert english.value == "MemoryError: the code tried to use more than 1.0 GiB of memory"

def test_fill_in_the_middle_streams_the_middle_into_place(scripted) -> None:
    engine, loader = scripted
    decoder = loader.decoder("scripted-coder")
    decoder.enqueue("\n    if n < 2:\n        return False")
    prefix, suffix = "def is_prime(n):", "\n    return True\n"
    code, status = list(fill(engine, Stops(), prefix, suffix, "scripted-coder", 64, 1, 0.0, 1.0, 1, 0.0, 1.0))[-1]
    assert code == prefix + "\n    if n < 2:\n        return False" + suffix  # whitespace kept, in place
    assert status.startswith("The middle:")
    prompt = loader.tokenizer.decode(decoder.prompts[0].input_ids, skip_special_tokens=False)
    assert prompt == f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"  # no chat template


@pytest.mark.parametrize(("prefix", "suffix", "model", "message"), [
    ("def f():", "", "scripted-qwen3", "scripted-qwen3 is not trained to fill in the middle"),
    ("  ", "\n", "scripted-coder", "Type the code before the gap"),
])
def test_fim_bad_input_gets_a_clear_message(scripted, prefix, suffix, model, message) -> None:
    engine, _ = scripted
    (update,) = list(fill(engine, Stops(), prefix, suffix, model, 64, 1, 0.0, 1.0, 1, 0.0, 1.0))
    assert message in update[1]
    out = list(fim_api(engine, Stops(), prefix, suffix, model))
    assert message in out[0]["error"]


def test_bad_requests_say_what_to_fix(scripted) -> None:
    engine, _ = scripted
    chat = send(engine, "   ")[0]
    assert "Type a request first." in chat[-1].content
    out = list(code_api(engine, Stops(), "Hi", model="scripted-qwen3", language="COBOL"))
    assert "Unknown language 'COBOL'" in out[0]["error"]


def test_the_api_returns_the_reply_and_its_files(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue(PAGE)
    out = list(code_api(engine, Stops(), "A counter page", model="scripted-qwen3", language="HTML/CSS/JS"))[-1]
    assert out["done"] and out["reply"] == PAGE
    assert [(f["filename"], f["language"], f["closed"]) for f in out["files"]] == [
        ("index.html", "html", True), ("app.js", "javascript", True)]


def test_copy_as_code_gives_a_runnable_script_of_the_pages_last_request_in_each_sub_tab(scripted) -> None:
    engine, loader = scripted
    page = gr.Request(session_hash="a-code-page")
    assert show_code(engine, SLOT, request=page).startswith("# Nothing was sent here yet")
    loader.decoder("scripted-qwen3").enqueue("```python\ndef search(xs, x): ...\n```")
    send(engine, "Binary search", language="Python", request=page, max_new_tokens=300, seed=5)
    script = show_code(engine, SLOT, request=page)
    compile(script, "snippet.py", "exec")
    assert script.startswith("# The code for your last request (scripted-qwen3 at ")
    assert "{'role': 'user', 'content': 'Binary search'}" in script and "Write Python" in script  # its system prompt
    assert "enable_thinking=False" in script
    assert "torch.manual_seed(5)" in script and "max_new_tokens=300, do_sample=True, temperature=0.7" in script
    assert show_code(engine, SLOT, request=gr.Request(session_hash="another-page")).startswith("# Nothing")
    # Fill in the middle: its own fold, with the raw prompt (no chat template).
    assert show_code(engine, FIM_SLOT, request=page).startswith("# Nothing was sent here yet")
    loader.decoder("scripted-coder").enqueue("\n    return n > 1")
    list(fill(engine, Stops(), "a", "b", "scripted-coder", 64, 1, 0.0, 1.0, 1, 0.0, 1.0, request=page))
    fim = show_code(engine, FIM_SLOT, request=page)
    compile(fim, "fim.py", "exec")
    assert fim.startswith("# The code for your last request (scripted-coder at ")
    assert "do_sample=False" in fim and "prompt = '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>'" in fim


def test_no_html_no_preview() -> None:
    assert preview_html([]) == ""


def test_a_page_in_another_language_gets_the_tabs_words_in_it(scripted, swahili) -> None:
    engine, loader = scripted
    chat = send(engine, "   ", request=swahili)[0]
    assert chat[-1].content == "⚠️ Andika ombi kwanza."  # a refusal
    loader.decoder("scripted-coder").enqueue("\n    return n > 1")
    _, status = list(fill(engine, Stops(), "def f(n):", "\n", "scripted-coder", 64, 1, 0.0, 1.0, 1, 0.0, 1.0,
                          request=swahili))[-1]
    assert status.startswith("Katikati: tokeni ") and status.endswith(".")  # FIM's status line
    assert send(engine, "   ")[0][-1].content == "⚠️ Type a request first."  # another page: English
    # The examples, when the page opens: the requests and the table's header in Swahili, or English where it has none.
    with gr.Blocks() as demo:
        build(engine.registry.catalog, engine, engine.registry, Page.build(demo))
    shown = on_open(demo, show_examples)(request=swahili)
    assert shown.raw_samples[:2] == [["Tengeneza darasa la kache.", "Python"],
                                     ["Write a binary search function with unit tests (pytest).", "Python"]]
    assert shown.headers == ["", "Lugha ya programu"]
    assert on_open(demo, show_examples)(request=None).headers == ["", "Language"]
