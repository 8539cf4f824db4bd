"""Fenced blocks out of a reply, their file names, and the fill-in-the-middle prompt."""

from __future__ import annotations

import pytest

from playground.errors import InvalidRequestError
from playground.tasks.code import FIM_TOKENS, check_fim_tokens, code_blocks, fim_prompt, has_fim_tokens, prose


def test_blocks_get_their_language_code_and_a_file_name() -> None:
    text = ("Here is the cache:\n\n```python\nclass Cache:\n    pass\n```\n\nAnd a page:\n"
            "```html\n<button>+1</button>\n```\n")
    python, html = code_blocks(text)
    assert (python.language, python.code, python.filename, python.closed) == (
        "python", "class Cache:\n    pass", "main.py", True)
    assert (html.language, html.code, html.filename) == ("html", "<button>+1</button>", "index.html")
    assert text[python.start : python.end] == "```python\nclass Cache:\n    pass\n```\n"


@pytest.mark.parametrize(("text", "names"), [
    pytest.param("```python cache.py\nx = 1\n```", ["cache.py"], id="in_the_info_string"),
    pytest.param("```python title=\"lru.py\"\nx = 1\n```", ["lru.py"], id="title_attribute"),
    pytest.param("```py:src/app.py\nx = 1\n```", ["src/app.py"], id="after_a_colon"),
    pytest.param("```python\n# filename: test_cache.py\nx = 1\n```", ["test_cache.py"], id="first_line_comment"),
    pytest.param("```html\n<!-- page.html -->\n<p>\n```", ["page.html"], id="html_comment"),
    pytest.param("**`search.py`**\n```python\nx = 1\n```", ["search.py"], id="line_above"),
    pytest.param("```python\na\n```\n```python\nb\n```", ["main.py", "main_2.py"], id="numbered_when_taken"),
    pytest.param("```java\npublic class Counter {}\n```", ["Counter.java"], id="java_class"),
    pytest.param("```go\npackage main\n```\n```sh\nls\n```", ["main.go", "script.sh"], id="defaults"),
])
def test_file_names(text: str, names: list[str]) -> None:
    assert [b.filename for b in code_blocks(text)] == names


def test_an_unlabelled_block_takes_the_callers_language_or_its_file_names() -> None:
    assert code_blocks("```\nSELECT 1;\n```", default_language="SQL")[0].language == "sql"
    assert code_blocks("```\nplain\n```")[0].language == ""
    assert code_blocks("```\n// main.rs\nfn main() {}\n```")[0].language == "rust"


def test_a_longer_fence_holds_shorter_ones_inside() -> None:
    text = "````markdown\n# Usage\n```bash\npip install x\n```\n````\nafter"
    (block,) = code_blocks(text)
    assert block.language == "markdown" and block.code == "# Usage\n```bash\npip install x\n```" and block.closed


def test_tildes_and_indented_fences() -> None:
    (tilde,) = code_blocks("~~~python\nprint(1)\n~~~")
    assert tilde.code == "print(1)" and tilde.closed
    (indented,) = code_blocks("1. Step:\n   ```python\n   x = 1\n     y = 2\n   ```")
    assert indented.code == "x = 1\n  y = 2"


def test_a_block_left_open_by_a_stopped_stream_is_kept_unfinished() -> None:
    text = "Start:\n```python\ndef f():\n    return"
    (block,) = code_blocks(text)
    assert block.code == "def f():\n    return" and not block.closed and block.end == len(text)
    assert prose(text, [block]) == "Start:\n📄 `main.py` (2 lines, unfinished)\n"


def test_inline_code_and_backticks_in_the_info_string_are_no_fence() -> None:
    assert code_blocks("Use ```x``` inline, and `a`.") == []


def test_prose_keeps_the_words_and_names_the_files() -> None:
    text = "Intro\n```python\na = 1\nb = 2\n```\nOutro"
    assert prose(text, code_blocks(text)) == "Intro\n📄 `main.py` (2 lines)\nOutro"


# --- fill in the middle ---------------------------------------------------------------------------------


def test_the_fim_prompt_uses_the_real_special_tokens(qwen3_tokenizer) -> None:
    prompt = fim_prompt("def add(a, b):\n", "\n    return c\n")
    assert prompt == "<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n    return c\n<|fim_middle|>"
    ids = qwen3_tokenizer.encode(prompt, add_special_tokens=False)
    for token in FIM_TOKENS:  # each one token, the tokenizer's own special token
        assert qwen3_tokenizer.convert_tokens_to_ids(token) in ids
    assert qwen3_tokenizer.decode(ids) == prompt


class NoFim:
    unk_token_id = 0

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]  # every FIM "token" is many characters


def test_fim_is_refused_for_a_model_without_fim_tokens_and_for_empty_input(qwen3_tokenizer) -> None:
    assert has_fim_tokens(qwen3_tokenizer) and not has_fim_tokens(NoFim())
    check_fim_tokens(qwen3_tokenizer, "coder")
    with pytest.raises(InvalidRequestError, match="chat-model has no fill-in-the-middle tokens"):
        check_fim_tokens(NoFim(), "chat-model")
    with pytest.raises(InvalidRequestError, match="Type the code before the gap"):
        fim_prompt(" \n", "")
