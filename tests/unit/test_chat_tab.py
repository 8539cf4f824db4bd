"""Chat tab handlers without a browser: history conversion and the messages a reply shows."""

from __future__ import annotations

from playground.generation import Metrics
from playground.memory import Precision
from tabs.chat import METRICS_ID, THINKING_TITLE, history_to_messages, reply_messages


def test_history_drops_thinking_and_metrics_and_adds_the_system_prompt() -> None:
    history = [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "secret reasoning", "metadata": {"title": "Thinking", "status": "done"}},
        {"role": "assistant", "content": "First answer"},
        {"role": "assistant", "content": "<sub>metrics</sub>", "metadata": {"id": METRICS_ID}},
        {"role": "user", "content": [{"type": "text", "text": "Second"}]},
    ]
    assert history_to_messages(history, "  Be brief. ") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second"},
    ]
    assert history_to_messages([], "") == []


def test_reply_shows_thinking_open_until_the_answer_starts() -> None:
    pending = reply_messages("hmm", "", None)
    assert [m.metadata for m in pending] == [{"title": THINKING_TITLE, "status": "pending"}]
    answering = reply_messages("hmm", "Yes", None, thought_s=3.14)
    assert answering[0].metadata == {"title": THINKING_TITLE, "status": "done", "duration": 3.1}
    assert answering[1].content == "Yes"
    metrics = Metrics("m", Precision.NF4, prompt_tokens=3, tokens=10, time_to_first_token_s=0.5, seconds=2.0,
                      peak_memory=2 * 1024**3, stopped=True)
    final = reply_messages("", "Yes", metrics)
    assert len(final) == 2 and final[1].metadata == {"id": METRICS_ID}
    summary = "0.50 s to first token · 10 tokens · 5.0 tok/s · nf4 · peak 2.00 GiB · stopped"
    assert final[1].content == f"<sub>{summary}</sub>"


def test_truncated_thinking_is_closed_when_the_reply_ends() -> None:
    metrics = Metrics("m", Precision.BF16, 1, 5, None, 1.0, 0, False)
    final = reply_messages("still thinking", "", metrics)
    assert final[0].metadata["status"] == "done"
