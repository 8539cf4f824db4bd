"""Code in a model's reply: its fenced blocks as files, and the fill-in-the-middle prompt.

`code_blocks(text)` finds every fenced block the way Markdown reads them (CommonMark fences):
a fence is three or more backticks or tildes; a block closes only at a fence of the same
character at least as long, so a ```` ````markdown ```` block may hold ``` fences of its own.
Each block gets a language (from its info string, else the caller's default) and a file name:
one the model gave (in the info string, a first-line comment, or a `name.ext` on the line just
above the block), else `main.py`, `index.html`, ... numbered when taken.

Edge cases (each a row of `tests/unit/test_code_blocks.py`): unlabelled blocks; nested fences; a
block still open at the end (a stopped stream): kept, with `closed` False; indented fences (up to
three spaces); tildes.

`fim_prompt` writes the text a base Qwen2.5-Coder model completes for fill in the middle:
`<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>` with no chat template;
`check_fim_tokens` refuses a tokenizer that lacks those three as single special tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from playground.errors import InvalidRequestError

FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")

# Aliases a model writes after the fence -> the language's name here.
ALIASES = {
    "py": "python", "python3": "python", "py3": "python", "js": "javascript", "node": "javascript", "jsx": "javascript",
    "ts": "typescript", "tsx": "typescript", "htm": "html", "xhtml": "html", "c++": "cpp", "cxx": "cpp", "cc": "cpp",
    "hpp": "cpp", "h": "c", "golang": "go", "rs": "rust", "sh": "bash", "shell": "bash", "zsh": "bash",
    "console": "bash", "yml": "yaml", "md": "markdown", "txt": "text", "plaintext": "text", "postgresql": "sql",
    "mysql": "sql", "sqlite": "sql", "kt": "kotlin", "rb": "ruby", "cs": "csharp", "c#": "csharp",
}
EXTENSIONS = {
    "python": "py", "javascript": "js", "typescript": "ts", "html": "html", "css": "css", "cpp": "cpp", "c": "c",
    "java": "java", "go": "go", "rust": "rs", "sql": "sql", "bash": "sh", "json": "json", "yaml": "yaml",
    "markdown": "md", "kotlin": "kt", "ruby": "rb", "csharp": "cs", "text": "txt", "toml": "toml",
    "dockerfile": "Dockerfile", "r": "r", "latex": "tex",
}
BY_EXTENSION = {ext: lang for lang, ext in EXTENSIONS.items()} | {"h": "c", "hpp": "cpp", "tsx": "typescript",
                                                                  "jsx": "javascript", "htm": "html", "yml": "yaml"}
# The default file name's stem per language (a Java class names its own file; see `_java_name`).
STEMS = {"html": "index", "css": "style", "javascript": "script", "typescript": "index", "sql": "query",
         "bash": "script", "markdown": "README", "json": "data", "yaml": "config", "text": "notes"}

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_NAME = r"[\w./-]*\w\.[A-Za-z][\w]{0,9}"
_NAME_IN_INFO = re.compile(rf"(?:title|file|filename|name)=[\"']?({_NAME})|(?:^|[\s:])({_NAME})")
_NAME_IN_COMMENT = re.compile(rf"^\s*(?:#|//|--|;|/\*|<!--)\s*(?:file(?:name)?\s*:\s*)?({_NAME})\s*(?:\*/|-->)?\s*$",
                              re.I)
_NAME_ABOVE = re.compile(rf"[`*_]({_NAME})[`*_]|({_NAME}):?\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, code, file name, whether its closing fence came, and where it is."""

    language: str  # "" when neither the fence nor the caller said
    code: str
    filename: str
    closed: bool
    start: int  # offsets in the text: the opening fence's line to the end of the closing fence's line
    end: int


def language_of(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


def code_blocks(text: str, default_language: str = "") -> list[Block]:
    """Every fenced block of `text`, in order, with a unique file name each."""
    blocks: list[Block] = []
    lines = text.splitlines(keepends=True)
    offset, i = 0, 0
    starts = []
    for line in lines:
        starts.append(offset)
        offset += len(line)
    while i < len(lines):
        opening = _FENCE.match(lines[i].rstrip("\r\n"))
        if not opening or (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            i += 1
            continue
        indent, fence, info = len(opening.group(1)), opening.group(2), opening.group(3).strip()
        body, j, closed = [], i + 1, False
        while j < len(lines):
            closing = _FENCE.match(lines[j].rstrip("\r\n"))
            if closing and closing.group(2)[0] == fence[0] and len(closing.group(2)) >= len(fence) \
                    and not closing.group(3).strip():
                closed = True
                break
            body.append(_dedent(lines[j], indent))
            j += 1
        code = "".join(body)
        code = code[:-1] if code.endswith("\n") else code
        word = info.split(maxsplit=1)[0].split(":")[0] if info else ""
        language = language_of(word) if word and "." not in word else ""
        above = lines[i - 1] if i > 0 else ""
        name = _given_name(info, code, above)
        if not language and name:
            language = BY_EXTENSION.get(PurePosixPath(name).suffix.lstrip(".").lower(), "")
        language = language or language_of(default_language)
        end = starts[j] + len(lines[j]) if closed else len(text)
        blocks.append(Block(language, code, name or "", closed, starts[i], end))
        i = j + 1
    return _named(blocks)


def _dedent(line: str, indent: int) -> str:
    """A block opened by an indented fence loses up to that much indentation from each line."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent):]


def _given_name(info: str, code: str, above: str) -> str | None:
    """A file name the model gave: in the fence's info string, a first-line comment, or the line above."""
    if info:
        rest = info.split(maxsplit=1)
        match = _NAME_IN_INFO.search(rest[1] if len(rest) > 1 else (rest[0] if "." in rest[0] else ""))
        if match is None and ":" in rest[0]:
            match = _NAME_IN_INFO.search(rest[0].split(":", 1)[1])
        if match:
            return match.group(1) or match.group(2)
    first = code.split("\n", 1)[0]
    if (match := _NAME_IN_COMMENT.match(first)) is not None:
        return match.group(1)
    if (match := _NAME_ABOVE.search(above.strip())) is not None:
        return match.group(1) or match.group(2)
    return None


def _named(blocks: list[Block]) -> list[Block]:
    """Every block with a file name, unique: given names kept (numbered if repeated), the rest from the language."""
    taken: set[str] = set()
    out = []
    for block in blocks:
        name = block.filename or _default_name(block)
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        n = 2
        while name in taken:
            name = f"{stem}_{n}{dot}{ext}"
            n += 1
        taken.add(name)
        out.append(replace(block, filename=name))
    return out


def _default_name(block: Block) -> str:
    ext = EXTENSIONS.get(block.language, "txt")
    if ext == "Dockerfile":
        return "Dockerfile"
    if block.language == "java" and (match := re.search(r"public\s+(?:final\s+)?class\s+(\w+)", block.code)):
        return f"{match.group(1)}.java"
    return f"{STEMS.get(block.language, 'main')}.{ext}"


def prose(text: str, blocks: list[Block]) -> str:
    """The text with each block replaced by a line naming its file (the code itself shows in the file panels)."""
    out, at = [], 0
    for block in blocks:
        out.append(text[at : block.start])
        lines = block.code.count("\n") + 1 if block.code else 0
        state = "" if block.closed else ", unfinished"
        out.append(f"📄 `{block.filename}` ({lines} line{'s' if lines != 1 else ''}{state})\n")
        at = block.end
    out.append(text[at:])
    return "".join(out)


# --- fill in the middle -------------------------------------------------------------------------------


def has_fim_tokens(tokenizer: Any) -> bool:
    """Whether each FIM token is one special token of this tokenizer (Qwen2.5-Coder's are)."""
    for token in FIM_TOKENS:
        ids = tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1 or ids[0] == getattr(tokenizer, "unk_token_id", None):
            return False
    return True


def fim_prompt(prefix: str, suffix: str) -> str:
    """The text a base Coder model completes with the middle (the backend checks its tokenizer has the tokens)."""
    if not prefix.strip() and not suffix.strip():
        raise InvalidRequestError("fim.no_code")
    return f"{FIM_TOKENS[0]}{prefix}{FIM_TOKENS[1]}{suffix}{FIM_TOKENS[2]}"


def check_fim_tokens(tokenizer: Any, model: str) -> None:
    """Refuse, with a reason, a FIM prompt for a model whose tokenizer lacks the tokens."""
    if not has_fim_tokens(tokenizer):
        raise InvalidRequestError("fim.no_tokens", model=model, tokens=", ".join(FIM_TOKENS))
