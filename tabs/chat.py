"""Chat tab: streaming multi-turn chat with any catalogue model that has the chat task.

Built on `gr.ChatInterface`, which already gives the stop, retry, undo and edit controls
and the `/chat` API endpoint. This module adds the model picker, the sampling controls that
follow each model's recommended preset (and Qwen3's thinking mode), thinking shown as a
collapsible block, and a metrics line under each reply. Generation itself is the engine's.

    python -m tabs.chat   # this tab alone, for development
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import gradio as gr

from playground.catalog import Catalog, Task
from playground.errors import PlaygroundError
from playground.generation import Answer, Cancel, Engine, GenerationRequest, Message, Metrics, Notice, Thinking

TITLE = "Chat"

LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "\\[", "right": "\\]", "display": True},
]

EXAMPLES = [
    "Explain the difference between a list and a tuple in Python, with a short example.",
    "用三句话介绍一下长城。",
    "Quelle est la dérivée de $x^2 \\sin x$ ? Montre les étapes.",
    "Schreibe ein kurzes Gedicht über den Herbst.",
    "日本の有名な観光地を三つ教えてください。",
]

THINKING_TITLE = "Thinking"
# Display-only messages: never sent back to the model.
METRICS_ID = "metrics"
ERROR_ID = "error"
UPDATE_INTERVAL_S = 0.05
STOP_WAIT_S = 10.0  # the model stops within a token; this only bounds a stuck worker


def history_to_messages(history: list[dict[str, Any]], system_prompt: str) -> list[Message]:
    """Chatbot history to model messages: thinking blocks and metrics lines are display only."""
    messages: list[Message] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    for item in history:
        metadata = item.get("metadata") or {}
        if metadata.get("title") or metadata.get("id") in (METRICS_ID, ERROR_ID):
            continue
        content = item.get("content")
        if isinstance(content, list):  # Gradio 6 stores text as [{"type": "text", "text": ...}]
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str):
            messages.append({"role": item["role"], "content": content})
    return messages


class ActiveReplies:
    """The reply each browser session is streaming, so its Stop button can reach it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, Cancel] = {}

    def start(self, session: str) -> Cancel:
        cancel = Cancel()
        with self._lock:
            self._by_session[session] = cancel
        return cancel

    def end(self, session: str, cancel: Cancel) -> None:
        with self._lock:
            if self._by_session.get(session) is cancel:
                del self._by_session[session]

    def stop(self, session: str) -> Cancel | None:
        with self._lock:
            cancel = self._by_session.pop(session, None)
        if cancel is not None:
            cancel.set()
        return cancel


def chat(
    engine: Engine,
    replies: ActiveReplies,
    message: str,
    history: list[dict[str, Any]],
    model: str,
    system_prompt: str = "",
    thinking: bool = True,
    temperature: float = 0.7,
    top_p: float = 0.8,
    top_k: int = 20,
    repetition_penalty: float = 1.0,
    max_new_tokens: int = 1024,
    seed: int = -1,
    request: gr.Request | None = None,
) -> Iterator[list[gr.ChatMessage]]:
    """Stream a reply: a thinking block (models that think), the answer, then a metrics line.

    `seed` -1 means a fresh random seed each time; temperature 0 means greedy decoding.
    A problem (model does not fit, prompt too long, ...) ends the reply with an error message
    rather than an exception, so the chat stays usable.
    """
    if not message or not message.strip():
        yield [error_message("Type a message first.")]
        return
    generation = GenerationRequest(
        model=model,
        messages=[*history_to_messages(history, system_prompt), {"role": "user", "content": message}],
        max_new_tokens=int(max_new_tokens),
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        repetition_penalty=float(repetition_penalty),
        seed=None if seed is None or int(seed) < 0 else int(seed),
        thinking=bool(thinking),
    )
    session = session_of(request)
    cancel = replies.start(session)
    thinking_text, answer_text, metrics = "", "", None
    shown_at = 0.0
    started = time.monotonic()
    thought_s = None  # how long the model thought, once the answer begins
    try:
        with closing(engine.stream(generation, cancel)) as events:
            for event in events:
                if isinstance(event, Thinking):
                    thinking_text += event.text
                elif isinstance(event, Answer):
                    answer_text += event.text
                    if thinking_text and thought_s is None:
                        thought_s = time.monotonic() - started
                elif isinstance(event, Metrics):
                    metrics = event
                elif isinstance(event, Notice):
                    gr.Info(event.text)
                    continue
                # Each update costs Gradio a diff and a message to the browser; past ~25 a
                # second nobody sees the difference, but a fast model would slow down.
                now = time.monotonic()
                if metrics is None and now - shown_at < UPDATE_INTERVAL_S:
                    continue
                shown_at = now
                yield reply_messages(thinking_text, answer_text, metrics, thought_s)
    except PlaygroundError as exc:
        yield [*reply_messages(thinking_text, answer_text, None, thought_s), error_message(str(exc))]
    finally:
        replies.end(session, cancel)


def stop(replies: ActiveReplies, shown: list[dict[str, Any]], request: gr.Request | None = None) -> Any:
    """Stop this session's reply and add its metrics line, which the cancelled stream cannot."""
    cancel = replies.stop(session_of(request))
    if cancel is None:
        return gr.skip()
    metrics = cancel.wait(timeout=STOP_WAIT_S)
    if metrics is None or (shown and (shown[-1].get("metadata") or {}).get("id") == METRICS_ID):
        return gr.skip()
    return [*shown, metrics_message(metrics)]


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def reply_messages(
    thinking: str, answer: str, metrics: Metrics | None, thought_s: float | None = None
) -> list[gr.ChatMessage]:
    """The messages that show one reply so far. Fresh objects each time: Gradio streams diffs.

    The thinking block is open with a spinner while the model thinks and folds when the
    answer starts, showing how long the thinking took.
    """
    messages = []
    if thinking:
        done = bool(answer) or metrics is not None
        metadata: dict[str, Any] = {"title": THINKING_TITLE, "status": "done" if done else "pending"}
        if thought_s is not None:
            metadata["duration"] = round(thought_s, 1)
        messages.append(gr.ChatMessage(role="assistant", content=thinking, metadata=metadata))
    if answer:
        messages.append(gr.ChatMessage(role="assistant", content=answer))
    if metrics is not None:
        messages.append(metrics_message(metrics))
    return messages


def metrics_message(metrics: Metrics) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content=f"<sub>{metrics.summary()}</sub>", metadata={"id": METRICS_ID})


def error_message(text: str) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content=f"⚠️ {text}", metadata={"id": ERROR_ID})


def not_empty(message: str, *_: Any) -> Any:
    """Keeps an empty message from being sent at all (the UI's validator)."""
    return gr.validate(bool(message and message.strip()), "Type a message first.")


def sampling_updates(catalog: Catalog, model: str, thinking: bool) -> tuple[Any, ...]:
    """The thinking toggle and the sampling sliders after a change of model or mode."""
    spec = catalog.get(model)
    preset = spec.sampling_for(thinking and spec.thinks)
    return (
        gr.update(visible=spec.thinks),
        preset.temperature,
        preset.top_p,
        preset.top_k,
        preset.repetition_penalty,
    )


def build(catalog: Catalog, engine: Engine) -> gr.ChatInterface | None:
    models = catalog.with_task(Task.CHAT)
    if not models:
        gr.Markdown("The catalogue has no model with the `chat` task.")
        return None
    first = models[0]
    preset = first.sampling_for(first.thinks)
    # Model and thinking mode sit above the chat; the finer controls fold away below it.
    with gr.Row(equal_height=True):
        model = gr.Dropdown(choices=[spec.key for spec in models], value=first.key, label="Model", scale=4)
        thinking = gr.Checkbox(value=True, label="Thinking", visible=first.thinks, scale=1,
                               info="Qwen3 thinks before answering; off answers at once.")
    system_prompt = gr.Textbox(value="", label="System prompt", placeholder="Optional", lines=2, render=False)
    temperature = gr.Slider(0, 2, value=preset.temperature, step=0.05, label="Temperature",
                            info="0 = greedy", render=False)
    top_p = gr.Slider(0.05, 1, value=preset.top_p, step=0.05, label="Top-p", render=False)
    top_k = gr.Slider(0, 200, value=preset.top_k, step=1, label="Top-k", info="0 = off", render=False)
    repetition_penalty = gr.Slider(1, 2, value=preset.repetition_penalty, step=0.01,
                                   label="Repetition penalty", render=False)
    max_new_tokens = gr.Slider(1, 32768, value=1024, step=1, label="Max new tokens", render=False)
    seed = gr.Number(value=-1, precision=0, label="Seed", info="-1 = random", render=False)

    chatbot = gr.Chatbot(
        label="Chat",
        latex_delimiters=LATEX_DELIMITERS,
        height="60vh",
        editable="user",
        elem_id="chatbot",
    )
    replies = ActiveReplies()
    interface = gr.ChatInterface(
        fn=functools.partial(chat, engine, replies),
        chatbot=chatbot,
        textbox=gr.Textbox(label="Message", show_label=False, placeholder="Type a message…", scale=7, autofocus=True,
                           submit_btn=True, stop_btn=True, elem_id="chat-input"),
        additional_inputs=[model, system_prompt, thinking, temperature, top_p, top_k,
                           repetition_penalty, max_new_tokens, seed],
        additional_inputs_accordion=gr.Accordion("System prompt and sampling", open=False, render=False),
        examples=[[example] for example in EXAMPLES],
        editable=True,
        api_name="chat",
        fill_height=True,
        validator=not_empty,
    )
    interface.textbox.stop(functools.partial(stop, replies), [chatbot], [chatbot], api_visibility="private",
                           concurrency_limit=None)
    follow = functools.partial(sampling_updates, catalog)
    outputs = [thinking, temperature, top_p, top_k, repetition_penalty]
    model.change(follow, [model, thinking], outputs, api_visibility="private")
    thinking.change(follow, [model, thinking], outputs, api_visibility="private")
    return interface


if __name__ == "__main__":
    from playground.services import create_services

    services = create_services()
    with gr.Blocks(title=TITLE) as demo:
        build(services.catalog, services.engine)
    demo.launch()
