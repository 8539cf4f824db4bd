"""Chat tab: streaming multi-turn chat with any catalogue model that has the chat task.

Built on `gr.ChatInterface`, which already gives the stop, retry, undo and edit controls and
the `/chat` API endpoint. This module adds the model picker, the thinking switch for Qwen3,
and the sampling controls set to each model's recommended preset; how a reply streams, stops
and looks is `tabs.reply`'s, and generation is the engine's.

    python -m tabs.chat   # this tab alone, for development
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import gradio as gr

from playground.catalog import Catalog, Task
from playground.engine import Engine
from playground.errors import PlaygroundError
from playground.requests import Message, Request
from tabs.reply import (
    LATEX_DELIMITERS,
    SamplingControls,
    Stops,
    error_message,
    is_display_only,
    preset_values,
    sampling_of,
    session_of,
    stop_reply,
    stream_reply,
)

TITLE = "Chat"
SLOT = "chat"

EXAMPLES = [
    "Explain the difference between a list and a tuple in Python, with a short example.",
    "用三句话介绍一下长城。",
    "Quelle est la dérivée de $x^2 \\sin x$ ? Montre les étapes.",
    "Schreibe ein kurzes Gedicht über den Herbst.",
    "日本の有名な観光地を三つ教えてください。",
]


def history_to_messages(history: list[dict[str, Any]], system_prompt: str) -> list[Message]:
    """Chatbot history to model messages: thinking blocks, metrics lines and errors are display only."""
    messages: list[Message] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    for item in history:
        if is_display_only(item):
            continue
        content = item.get("content")
        if isinstance(content, list):  # Gradio 6 stores text as [{"type": "text", "text": ...}]
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str):
            messages.append({"role": item["role"], "content": content})
    return messages


def chat(
    engine: Engine,
    stops: Stops,
    message: str,
    history: list[dict[str, Any]],
    model: str,
    system_prompt: str = "",
    thinking: bool = True,
    temperature: float = 0.7,
    top_p: float = 0.8,
    top_k: int = 20,
    min_p: float = 0.0,
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
    try:
        sampling = sampling_of([temperature, top_p, top_k, min_p, repetition_penalty, max_new_tokens, seed])
    except PlaygroundError as exc:
        yield [error_message(str(exc))]
        return
    generation = Request(
        model=model,
        messages=[*history_to_messages(history, system_prompt), {"role": "user", "content": message}],
        sampling=sampling,
        thinking=bool(thinking),
    )
    yield from stream_reply(engine, generation, stops, (session_of(request), SLOT))


def stop(stops: Stops, shown: list[dict[str, Any]], request: gr.Request | None = None) -> Any:
    """Stop this session's reply and add its metrics line."""
    return stop_reply(stops, (session_of(request), SLOT), shown)


def not_empty(message: str, *_: Any) -> Any:
    """Keeps an empty message from being sent at all (the UI's validator)."""
    return gr.validate(bool(message and message.strip()), "Type a message first.")


def follow_model(catalog: Catalog, model: str, thinking: bool) -> tuple[Any, ...]:
    """The thinking switch and the preset sliders after a change of model or mode."""
    spec = catalog.get(model)
    return (gr.update(visible=spec.thinks), *preset_values(spec, thinking))


def build(catalog: Catalog, engine: Engine) -> gr.ChatInterface | None:
    models = catalog.with_task(Task.CHAT)
    if not models:
        gr.Markdown("The catalogue has no model with the `chat` task.")
        return None
    first = models[0]
    # Model and thinking mode sit above the chat; the finer controls fold away below it.
    with gr.Row(equal_height=True):
        model = gr.Dropdown(choices=[spec.key for spec in models], value=first.key, label="Model", scale=4)
        thinking = gr.Checkbox(value=True, label="Thinking", visible=first.thinks, scale=1,
                               info="Qwen3 thinks before answering; off answers at once.")
    system_prompt = gr.Textbox(value="", label="System prompt", placeholder="Optional", lines=2, render=False)
    controls = SamplingControls.build(first.sampling_for(first.thinks), render=False)

    chatbot = gr.Chatbot(
        label="Chat",
        latex_delimiters=LATEX_DELIMITERS,
        height="60vh",
        editable="user",
        elem_id="chatbot",
    )
    stops = Stops()
    interface = gr.ChatInterface(
        fn=functools.partial(chat, engine, stops),
        chatbot=chatbot,
        textbox=gr.Textbox(label="Message", show_label=False, placeholder="Type a message…", scale=7, autofocus=True,
                           submit_btn=True, stop_btn=True, elem_id="chat-input"),
        additional_inputs=[model, system_prompt, thinking, *controls.components],
        additional_inputs_accordion=gr.Accordion("System prompt and sampling", open=False, render=False),
        examples=[[example] for example in EXAMPLES],
        editable=True,
        api_name="chat",
        fill_height=True,
        validator=not_empty,
    )
    interface.textbox.stop(functools.partial(stop, stops), [chatbot], [chatbot], api_visibility="private",
                           concurrency_limit=None)
    follow = functools.partial(follow_model, catalog)
    outputs = [thinking, *controls.preset_components]
    model.change(follow, [model, thinking], outputs, api_visibility="private")
    thinking.change(follow, [model, thinking], outputs, api_visibility="private")
    return interface


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=TITLE) as demo:
        build(services.catalog, services.engine)
    demo.launch()
