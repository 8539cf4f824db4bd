"""Qwen3's thinking: splitting it from the answer as text streams in, and the thinking budget.

Qwen3 thinks inside one `<think> ... </think>` block at the start of its reply, then answers.
`ThinkingSplitter` is fed decoded chunks as they stream and returns what each chunk adds to
the thinking and to the answer; `split_thinking` does the same for a whole text. Both are
pure: no model, no tokenizer, no I/O.

Edge cases (each one is a row of the table in `tests/unit/test_thinking.py`):

- No think block ("Hello"): everything is answer.
- Empty think block ("<think>\\n\\n</think>\\n\\nHi", what Qwen3 writes with thinking off):
  thinking is "", answer is "Hi".
- Truncated thinking ("<think>I wonder", generation stopped before `</think>`): everything
  after the tag is thinking, the answer is "" and `finished` stays False.
- The prompt already opened the block (Qwen3-*-Thinking-2507 templates end the prompt with
  "<think>\\n"): pass `in_thinking=True`; text up to `</think>` is thinking.
- A tag split across chunks ("<thi" + "nk>", "</th" + "ink>"): the partial tag is held back
  until the next chunk decides it, so no tag fragment ever reaches either stream.
- Whitespace: the newlines around the thinking and before the answer are not content and are
  dropped; whitespace inside either is kept.
- Tags after the answer has started are ordinary text (Qwen3 writes one block at most).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

OPEN = "<think>"
CLOSE = "</think>"


@dataclass(frozen=True)
class Split:
    thinking: str
    answer: str
    finished: bool  # True once `</think>` was seen (or there was no block at all)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkingSplitter:
    """Incremental splitter. `feed(chunk)` returns (thinking_delta, answer_delta)."""

    def __init__(self, in_thinking: bool = False, plain: bool = False):
        """`plain`: text that is all answer, whitespace and tags included (a completion, e.g. code to fill in)."""
        self._mode = "thinking" if in_thinking else ("answer" if plain else "start")
        self._buffer = ""
        self._thinking_started = False  # leading newlines of the thinking are dropped
        self._answer_started = plain  # leading whitespace of the answer is dropped
        self.saw_block = in_thinking

    @property
    def finished(self) -> bool:
        return self._mode == "answer"

    @property
    def in_thinking(self) -> bool:
        return self._mode == "thinking"

    def feed(self, chunk: str) -> tuple[str, str]:
        self._buffer += chunk
        thinking, answer = "", ""
        while True:
            if self._mode == "start":
                stripped = self._buffer.lstrip()
                if stripped.startswith(OPEN):
                    self._buffer = stripped[len(OPEN) :]
                    self._mode = "thinking"
                    self.saw_block = True
                    continue
                if OPEN.startswith(stripped):  # empty or a partial tag: wait for more
                    break
                self._mode = "answer"
                continue
            if self._mode == "thinking":
                end = self._buffer.find(CLOSE)
                if end >= 0:
                    thinking += self._emit_thinking(self._buffer[:end], final=True)
                    self._buffer = self._buffer[end + len(CLOSE) :]
                    self._mode = "answer"
                    continue
                hold = _partial_suffix(self._buffer, CLOSE)
                text = self._buffer[: len(self._buffer) - hold]
                # Trailing whitespace may turn out to precede `</think>`: hold it back too.
                keep = len(text) - len(text.rstrip())
                thinking += self._emit_thinking(text[: len(text) - keep], final=False)
                self._buffer = self._buffer[len(text) - keep :]
                break
            answer += self._emit_answer(self._buffer)
            self._buffer = ""
            break
        return thinking, answer

    def skip(self, text: str) -> None:
        """Take in text already shown (the start of a continued reply): the state follows it, and nothing
        of it is returned or held back, so what comes next is split as if it had streamed on."""
        self.feed(text)
        if self._mode == "thinking" and not self._buffer.strip():
            self._buffer = ""  # whitespace held back in case `</think>` followed: it was shown already
        if text.strip():
            self._thinking_started = self._thinking_started or self._mode == "thinking"
            self._answer_started = self._answer_started or self._mode == "answer"

    def flush(self) -> tuple[str, str]:
        """End of stream: whatever is held back is released where it belongs."""
        rest, self._buffer = self._buffer, ""
        if self._mode == "thinking":
            return self._emit_thinking(rest, final=True), ""
        if self._mode == "start":
            self._mode = "answer"
        return "", self._emit_answer(rest)

    def _emit_thinking(self, text: str, final: bool) -> str:
        if not self._thinking_started:
            text = text.lstrip("\n")
            if text:
                self._thinking_started = True
        return text.rstrip() if final else text

    def _emit_answer(self, text: str) -> str:
        if not self._answer_started:
            text = text.lstrip()
            if text:
                self._answer_started = True
        return text


def split_thinking(text: str, in_thinking: bool = False) -> Split:
    """Split a whole reply. Same rules as the streaming splitter."""
    splitter = ThinkingSplitter(in_thinking)
    t1, a1 = splitter.feed(text)
    t2, a2 = splitter.flush()
    finished = splitter.finished or not splitter.saw_block
    return Split(thinking=t1 + t2, answer=a1 + a2, finished=finished)


# Qwen's thinking-budget recipe (Qwen3 docs, quickstart "Thinking Budget"; the Qwen3 technical
# report has the same sentence): once the thinking is cut, this is appended and the model goes on
# with the answer.
EARLY_STOP = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking directly "
    "now.\n</think>\n\n"
)


@dataclass
class ThinkingBudget:
    """Caps the thinking at `limit` tokens, token by token, as the model writes them.

    Call `forced()` before picking each token: while the budget is cutting in it returns the
    next token of `stop_ids` (EARLY_STOP, tokenized) to write instead of a sampled one. Then
    `observe(token)` with the token actually written. Pure: token ids in, token ids out.

    Edge cases (each a row of the table in `tests/unit/test_thinking.py`):

    - Hybrid model: the thinking starts when the model writes `open_id`; that tag is not counted.
    - Thinking-only model (the prompt already opened the block): pass `thinking=True`; every
      token counts from the first.
    - The model closes the block itself (`close_id`) within the limit: nothing is forced.
    - The model never opens a block (thinking off, or it answers at once): nothing is forced.
    - At `limit` model-written thinking tokens without `close_id`, the next tokens are
      `stop_ids` (ending with `close_id`), then the model answers.
    - `limit` 0 on a thinking-only model: the stop sentence comes first.
    """

    limit: int
    open_id: int
    close_id: int
    stop_ids: Sequence[int]
    thinking: bool = False  # inside the thinking block now
    used: int = 0  # thinking tokens the model wrote
    cut: bool = False  # the budget cut in
    ended: bool = False  # the thinking block is closed
    _forcing: deque[int] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.thinking and self.limit <= 0:
            self._cut()

    def forced(self) -> int | None:
        return self._forcing[0] if self._forcing else None

    def observe(self, token: int) -> None:
        if self._forcing:
            self._forcing.popleft()
            if token == self.close_id:
                self.thinking, self.ended = False, True
            return
        if self.ended:
            return
        if not self.thinking:
            if token == self.open_id and self.used == 0:
                self.thinking = True
                if self.limit <= 0:
                    self._cut()
            return
        if token == self.close_id:
            self.thinking, self.ended = False, True
            return
        self.used += 1
        if self.used >= self.limit:
            self._cut()

    def _cut(self) -> None:
        self.cut = True
        self._forcing.extend(self.stop_ids)
