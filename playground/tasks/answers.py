"""Final answers in a model's text: the last `\\boxed{...}` (nested braces kept), else the last number.

Pure functions over text, for comparing two answers (the Thinking tab) and, later, checking one
(the Math tab). Edge cases (each a row of the table in `tests/unit/test_answers.py`):

- `\\boxed{\\frac{1}{2}}`: nested braces are kept whole: `\\frac{1}{2}`. `\\fbox{...}` counts too, and
  `\\boxed 5` (no braces, as TeX allows for one token) gives `5`.
- Several boxes: the last one is the answer.
- An unclosed `\\boxed{` (a cut-off reply) is skipped: an earlier complete box, else the last number.
- No box: the last number, with its sign and decimals, thousands separators dropped ("1,000" -> "1000").
- Nothing at all: None.
- Comparing: whitespace and a trailing period do not matter; "0.50" equals "0.5", "3" equals "3.0".
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])\s*")


def boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`), or None."""
    for match in reversed(list(_BOX.finditer(text))):
        i = match.end()
        if i < len(text) and text[i] == "{":
            depth, start = 0, i
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
                if depth == 0:
                    return text[start + 1 : i - 1].strip()
            continue  # unclosed: look for an earlier, complete one
        bare = re.match(r"[^\s$]+", text[i:])  # `\boxed 5$`: up to a space or the closing $
        if bare and match.group().endswith((" ", "\t")):
            return bare.group().rstrip(".,")
    return None


def last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


def final_answer(text: str) -> str | None:
    """What the text gives as its answer: the last boxed content, else the last number."""
    return boxed(text) or last_number(text)


def _normal(answer: str) -> str:
    answer = " ".join(answer.split()).rstrip(".")
    try:
        return repr(float(answer.replace(",", "")))
    except ValueError:
        return answer


def same_answer(a: str | None, b: str | None) -> bool | None:
    """Whether two final answers agree (None if either is missing)."""
    if a is None or b is None:
        return None
    return _normal(a) == _normal(b)
