"""Splits Qwen3 output into thinking and answer, as text streams in.

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

from dataclasses import dataclass

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

    def __init__(self, in_thinking: bool = False):
        self._mode = "thinking" if in_thinking else "start"
        self._buffer = ""
        self._thinking_started = False  # leading newlines of the thinking are dropped
        self._answer_started = False  # leading whitespace of the answer is dropped
        self.saw_block = in_thinking

    @property
    def finished(self) -> bool:
        return self._mode == "answer"

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
