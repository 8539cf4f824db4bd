"""Chat tab: multi-turn chat with any catalogue model that has the chat task, the way chat apps work.

Laid out as people know it from chat apps: conversations in a sidebar on the left (kept in the
browser: new, switch, rename, delete), the chat in the middle, and the settings in a sidebar on
the right (model, thinking, system prompt, sampling), both folding away on a phone. A reply
streams with its thinking, loading progress and metrics (`tabs.reply`); Stop (or Esc) stops it;
retry, undo and edit work on the messages; typing goes on while a reply streams, and Enter then
sends the message when the reply ends. Settings the user changed survive a change of model or
mode; the rest follow the model's recommended preset. Copy as code, below the chat, gives the script
that reproduces the last reply (`tabs.copy_code`). `/chat` is the public API endpoint: its caller's
session keeps one conversation.

Generation is the engine's; this module only lays out and wires.

    python -m tabs.chat   # this tab alone, for development
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr

from playground.catalog import Catalog, ModelSpec, Sampling, Task
from playground.engine import Engine
from playground.errors import PlaygroundError
from playground.i18n import LANGUAGES, say, template
from playground.registry import Registry
from playground.requests import Message, Request
from tabs import history as store
from tabs import picker
from tabs.copy_code import copy_as_code
from tabs.i18n import Page, language_of, t
from tabs.reply import (
    ERROR_ID,
    LATEX_DELIMITERS,
    RETRY_LARGER,
    RETRY_NO_THINKING,
    SamplingControls,
    Stops,
    bound,
    budget_box,
    budget_of,
    error_message,
    is_display_only,
    preset_updates,
    preset_values,
    sampling_of,
    session_of,
    stop_reply,
    stream_reply,
)

TITLE = "chat.title"  # a message key
SLOT = "chat"
SETTINGS_KEY = "qwen-playground-chat-settings"
CONVERSATIONS_KEY = "qwen-playground-conversations"
SECRET_FILE = Path(".gradio") / "browser-state-secret"

EXAMPLES = ("chat.example_1", "chat.example_2", "chat.example_3", "chat.example_4")  # in the reader's language

# Keyboard, small-screen and safety behaviour, run once when the page loads (`ChatTab.js`): remote
# images in any tab's messages become links; Esc stops a streaming reply; Enter while a reply streams
# marks the typed message to be sent when the reply ends (`SEND_QUEUED_JS` sends it); on a phone both
# sidebars start folded.
JS = """() => {
    const words = __WORDS__;
    const said = (key) => (words[document.documentElement.lang] || words.en)[key];
    document.addEventListener('keydown', (event) => {
        const stop = document.querySelector('#chat-input .stop-button');
        const streaming = stop && stop.offsetParent !== null;
        if (event.key === 'Escape' && streaming) { stop.click(); event.preventDefault(); }
        if (event.key === 'Enter' && !event.shiftKey && streaming && event.target.closest('#chat-input')) {
            window.__sendWhenDone = true;
            const hint = document.querySelector('#queued-hint');
            if (hint) hint.textContent = said('chat.queued');
        }
    }, true);
    // A remote image in a message is blocked by the page's Content-Security-Policy; it becomes a link,
    // so it loads only if the reader clicks (in a new tab).
    const linkRemoteImages = (node) => node.nodeType === 1 && [
        ...(node.matches('.message-content img') ? [node] : []), ...node.querySelectorAll('.message-content img'),
    ].forEach((img) => {
        const url = new URL(img.getAttribute('src') || '', location.href);
        if (url.origin === location.origin || ['data:', 'blob:'].includes(url.protocol)) return;
        const link = document.createElement('a');
        link.href = url.href; link.target = '_blank'; link.rel = 'noopener noreferrer nofollow';
        link.className = 'remote-image';
        link.textContent = '🖼 ' + said('chat.remote_image').replace('{alt}', img.alt || said('chat.image'))
            .replace('{host}', url.host);
        img.replaceWith(link);
    });
    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach(linkRemoteImages)))
        .observe(document.body, {childList: true, subtree: true});
    let tries = 0;
    const fold = () => {  // once the sidebars are on the page; then the page says it is settled
        if (!document.querySelector('.sidebar') && tries++ < 100) { setTimeout(fold, 50); return; }
        const open = document.querySelectorAll('.sidebar.open .toggle-button');
        if (window.innerWidth < 900) open.forEach((b) => b.click());
        document.body.dataset.sidebarsSettled = '1';
    };
    fold();
}""".replace("__WORDS__", json.dumps({lang.code: {key: template(lang.code, key) for key in
                                                 ("chat.queued", "chat.remote_image", "chat.image")}
                                     for lang in LANGUAGES}, ensure_ascii=False))
SEND_QUEUED_JS = """() => {
    const box = document.querySelector('#chat-input textarea');
    const hint = document.querySelector('#queued-hint');
    if (hint) hint.textContent = '';
    if (window.__sendWhenDone && box && box.value.trim()) {
        window.__sendWhenDone = false;
        setTimeout(() => document.querySelector('#chat-input .submit-button').click(), 100);
    } else if (box) { window.__sendWhenDone = false; box.focus(); }
}"""


@dataclass(frozen=True)
class ChatTab:
    """What the app needs from this tab: its sidebars (shown only with it), its model picker, and `follow(event)`:
    after an event that set the picker from outside (the model guide), the steps that make the settings follow
    the model, as picking it by hand does. Its page-load script is `JS`."""

    chatbot: gr.Chatbot
    sidebars: tuple[gr.Sidebar, ...]
    model: gr.Dropdown
    follow: Callable[[Any], Any]


# --- conversation <-> model messages --------------------------------------------------------


def history_to_messages(history: list[dict[str, Any]], system_prompt: str) -> list[Message]:
    """Chatbot history to model messages: thinking blocks, notices, metrics lines and errors are display only."""
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


def as_dicts(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Chat messages as plain JSON-able dicts (ChatMessage objects or dicts alike)."""
    out = []
    for m in messages:
        if isinstance(m, gr.ChatMessage):
            out.append({"role": m.role, "content": m.content, "metadata": dict(m.metadata or {}),
                        "options": list(m.options or [])})
        else:
            out.append(dict(m))
    return out


def drop_oldest(history: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The history without its `count` oldest model messages (and the display-only items among them)."""
    for index, item in enumerate(history):
        if count == 0:
            return history[index:]
        if not is_display_only(item):
            count -= 1
    return []


def last_user_index(history: list[dict[str, Any]]) -> int | None:
    return next((i for i in range(len(history) - 1, -1, -1) if history[i].get("role") == "user"), None)


# --- replies --------------------------------------------------------------------------------


def respond(engine: Engine, stops: Stops, history: list[dict[str, Any]], model: str, system_prompt: str,
            thinking: bool, *values: Any, request: gr.Request | None = None) -> Iterator[tuple[list, Any, int]]:
    """Stream the reply to the conversation's last user message: (the whole conversation so far, the meter,
    how many of its oldest messages were left out to fit the window).

    `values` are the sampling controls' values in `Sampling`'s field order, then the thinking budget.
    """
    language = language_of(request)
    try:
        sampling = sampling_of(values[:-1])
        thinking_budget = budget_of(values[-1])
    except PlaygroundError as exc:
        yield [*history, error_message(exc.text(language))], gr.skip(), 0
        return
    generation = Request(model=model, messages=history_to_messages(history, system_prompt), sampling=sampling,
                         thinking=bool(thinking), thinking_budget=thinking_budget)
    for view in stream_reply(engine, generation, stops, (session_of(request), SLOT), language=language):
        meter = view.meter()
        yield [*history, *view.messages()], f"<sub>{meter}</sub>" if meter else gr.skip(), view.dropped


def sending(textbox_value: str = "") -> Any:
    """The message box while a reply streams: still editable, with Stop instead of Send."""
    return gr.Textbox(value=textbox_value, submit_btn=False, stop_btn=t("chat.stop"))


def idle_textbox() -> Any:
    return gr.Textbox(submit_btn=t("chat.send"), stop_btn=False)


def send(engine: Engine, stops: Stops, message: str, history: list[dict[str, Any]], model: str, system_prompt: str,
         thinking: bool, *sampling_values: Any, request: gr.Request | None = None) -> Iterator[tuple[Any, Any, Any]]:
    """Enter or Send: the message joins the conversation at once, then the reply streams in."""
    if not message or not message.strip():
        yield gr.skip(), gr.skip(), gr.skip()
        return
    history = [*history, {"role": "user", "content": message}]
    try:  # too long: refused before any work, and the text stays in its box to shorten
        engine.limits.check(history_to_messages(history, system_prompt))
    except PlaygroundError as exc:
        yield gr.skip(), [*history[:-1], error_message(exc.text(language_of(request)))], gr.skip()
        return
    yield sending(), history, gr.skip()
    for conversation, meter, _ in respond(engine, stops, history, model, system_prompt, thinking, *sampling_values,
                                       request=request):
        yield gr.skip(), conversation, meter


def regenerate(engine: Engine, stops: Stops, history: list[dict[str, Any]], model: str, system_prompt: str,
               thinking: bool, *sampling_values: Any,
               request: gr.Request | None = None) -> Iterator[tuple[Any, Any, Any]]:
    """Retry: drop the last reply and ask again."""
    index = last_user_index(history)
    if index is None:
        yield gr.skip(), gr.skip(), gr.skip()
        return
    history = history[: index + 1]
    yield sending(), history, gr.skip()
    for conversation, meter, _ in respond(engine, stops, history, model, system_prompt, thinking, *sampling_values,
                                       request=request):
        yield gr.skip(), conversation, meter


def undo(history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """Remove the last exchange and give its message back to the message box."""
    index = last_user_index(history)
    if index is None:
        return history, gr.skip()
    content = history[index].get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return history[:index], content


def edit(history: list[dict[str, Any]], data: gr.EditData) -> list[dict[str, Any]]:
    """An edited user message replaces it and everything after it (the reply is asked for again)."""
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    return [*history[:index], {"role": "user", "content": data.value}]


def option(data: gr.SelectData, max_new_tokens: float, thinking: bool) -> tuple[Any, Any]:
    """An option under a reply that ran out of tokens: retry with a larger limit, or without thinking."""
    value = str(data.value)
    if value.startswith(RETRY_LARGER):
        return int(value.split(":")[1]), gr.skip()
    if value == RETRY_NO_THINKING:
        return gr.skip(), False
    return gr.skip(), gr.skip()


def example_text(data: gr.SelectData) -> str:
    return data.value["text"]


def stop(stops: Stops, shown: list[dict[str, Any]], request: gr.Request | None = None) -> Any:
    """Stop this session's reply and add its metrics line."""
    return stop_reply(stops, (session_of(request), SLOT), shown, language_of(request))


# --- the public /chat API -------------------------------------------------------------------


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
    thinking_budget: int | None = None,
    request: gr.Request | None = None,
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Stream a reply: a thinking block (models that think), the answer, then a metrics line.

    `seed` -1 means a fresh random seed each time; temperature 0 means greedy decoding;
    `thinking_budget` caps the thinking at that many tokens (empty or -1: no cap). The caller's
    session keeps the conversation: the next call continues it. A problem (model does
    not fit, prompt too long, ...) ends the reply with an error message, not an exception.
    """
    if not message or not message.strip():
        yield as_dicts([error_message(say(language_of(request), "chat.type_first"))]), history
        return
    conversation = [*history, {"role": "user", "content": message}]
    values = [temperature, top_p, top_k, min_p, repetition_penalty, max_new_tokens, seed, thinking_budget]
    for update, _meter, dropped in respond(engine, stops, conversation, model, system_prompt, thinking, *values,
                                           request=request):
        reply = as_dicts(update[len(conversation):])
        failed = any((m.get("metadata") or {}).get("id") == ERROR_ID for m in reply)
        # A refused or failed message never enters the session's conversation: later turns don't carry it.
        # What no longer fits the model's window leaves it too, so a long session stays as small as its window.
        yield reply, history if failed else drop_oldest([*conversation, *reply], dropped)


# --- settings: presets, what the user changed, what the browser keeps -------------------------


def follow_model(catalog: Catalog, registry: Registry, context_limit: int | None, model: str, thinking: bool,
                 touched: list[str], max_new_tokens: float, request: gr.Request | None = None) -> tuple[Any, ...]:
    """After a change of model or mode: the thinking switch, the preset values the user left alone, the
    max-new-tokens bounds, and the line about the model."""
    language = language_of(request)
    spec = catalog.get(model)
    preset = spec.sampling_for(thinking and spec.thinks)
    values = preset_updates(spec, thinking, touched)
    window = spec.window(context_limit)
    limit = preset.max_new_tokens if "max_new_tokens" not in touched else int(max_new_tokens or preset.max_new_tokens)
    if window:
        limit = min(limit, window)
    tokens = gr.Number(value=limit, maximum=window, info=tokens_info(window, language))
    return (gr.Checkbox(visible=spec.hybrid), gr.Number(visible=spec.thinks), *values, tokens,
            picker.info(registry, spec, language))


def tokens_info(window: int | None, language: str | None = None) -> str:
    return say(language, "chat.tokens_info", window=window) if window else ""


def reset_to_preset(catalog: Catalog, context_limit: int | None, model: str, thinking: bool) -> tuple[Any, ...]:
    spec = catalog.get(model)
    preset = spec.sampling_for(thinking and spec.thinks)
    window = spec.window(context_limit)
    limit = min(preset.max_new_tokens, window) if window else preset.max_new_tokens
    return (*preset_values(spec, thinking), limit, [])


def touch(name: str, touched: list[str]) -> list[str]:
    return touched if name in touched else [*touched, name]


def remember(model: str, thinking: bool, system_prompt: str, touched: list[str], *values: Any) -> dict[str, Any]:
    """What the browser keeps of the settings: the model, mode, system prompt and the values the user set."""
    names = [f.name for f in fields(Sampling)]
    chosen = {name: value for name, value in zip(names, values, strict=True) if name in touched}
    return {"model": model, "thinking": thinking, "system_prompt": system_prompt, "touched": touched,
            "values": chosen}


def restore(catalog: Catalog, saved: dict[str, Any], model: str) -> tuple[Any, ...]:
    """The settings the browser kept, on page load (what the catalogue no longer has is dropped)."""
    names = [f.name for f in fields(Sampling)]
    if not saved or saved.get("model") not in catalog.models:
        return (gr.skip(),) * (4 + len(names))
    chosen = saved.get("values", {})
    touched = [name for name in saved.get("touched", []) if name in chosen]
    values = [chosen[name] if name in chosen else gr.skip() for name in names]
    return (saved["model"], bool(saved.get("thinking", True)), saved.get("system_prompt", ""), touched, *values)


# --- conversations ----------------------------------------------------------------------------


def keep(conversations: list[dict[str, Any]], conversation_id: str | None,
         history: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    conversation_id, conversations = store.save(conversations, conversation_id, as_dicts(history))
    return conversation_id, conversations, gr.Radio(choices=store.choices(conversations), value=conversation_id)


def open_conversation(conversations: list[dict[str, Any]], conversation_id: str | None) -> tuple[Any, ...]:
    found = store.find(conversations, conversation_id)
    if found is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return conversation_id, found["messages"], found["title"], ""


def new_conversation() -> tuple[None, list, Any, str]:
    return None, [], gr.Radio(value=None), ""


def rename_conversation(conversations: list[dict[str, Any]], conversation_id: str | None,
                        title: str) -> tuple[Any, Any]:
    conversations = store.rename(conversations, conversation_id, title)
    return conversations, gr.Radio(choices=store.choices(conversations), value=conversation_id)


def delete_conversation(conversations: list[dict[str, Any]], conversation_id: str | None) -> tuple[Any, ...]:
    conversations = store.delete(conversations, conversation_id)
    return None, [], conversations, gr.Radio(choices=store.choices(conversations), value=None), ""


def list_conversations(conversations: list[dict[str, Any]]) -> Any:
    return gr.Radio(choices=store.choices(conversations or []))


def fresh_choices(registry: Registry, models: list[ModelSpec], request: gr.Request | None = None) -> Any:
    """The picker's labels as the registry is now (loaded, fits), in the reader's language."""
    return gr.Dropdown(choices=picker.choices(registry, models, language_of(request)))


def examples(request: gr.Request | None = None) -> Any:
    """The chat's example prompts in the reader's language."""
    language = language_of(request)
    return gr.Chatbot(examples=[{"text": say(language, key)} for key in EXAMPLES])


def browser_secret() -> str:
    """A stable secret for the browser-kept state, so conversations survive a restart of the app."""
    try:
        return SECRET_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        secret = secrets.token_urlsafe(24)
        try:
            SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
            SECRET_FILE.write_text(secret, encoding="utf-8")
        except OSError:  # a read-only folder: conversations then last until the app restarts
            pass
        return secret


# --- layout and wiring --------------------------------------------------------------------------


def build(catalog: Catalog, engine: Engine, registry: Registry, page: Page,
          context_limit: int | None = None) -> ChatTab | None:
    models = catalog.with_task(Task.CHAT)
    if not models:
        gr.Markdown(t("chat.no_models"))
        return None
    first = picker.default_model(registry, models)
    preset = first.sampling_for(first.thinks)
    secret = browser_secret()
    conversations = gr.BrowserState([], storage_key=CONVERSATIONS_KEY, secret=secret)
    saved_settings = gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=secret)
    conversation_id = gr.State(None)
    touched = gr.State([])
    api_history = gr.State([])

    with gr.Sidebar(label=t("chat.chats"), position="left", width=260, elem_id="chats-sidebar") as chats_sidebar:
        new_chat = gr.Button(t("chat.new_chat"), variant="primary", elem_id="new-chat")
        chat_list = gr.Radio(choices=[], label=t("chat.chats"), elem_id="chat-list")
        title = gr.Textbox(label=t("chat.chat_title"), placeholder=t("chat.rename_placeholder"), elem_id="chat-title")
        with gr.Row():
            rename_button = gr.Button(t("chat.rename"), size="sm", elem_id="rename-chat")
            delete_button = gr.Button(t("chat.delete"), size="sm", variant="stop", elem_id="delete-chat")

    with gr.Sidebar(label=t("chat.settings"), position="right", width=340,
                    elem_id="settings-sidebar") as settings_sidebar:
        # Labels and lines that name how models fit are made when the page opens, in its language.
        model = gr.Dropdown(choices=picker.choices(registry, models), value=first.key, label=t("chat.model"),
                            elem_id="chat-model", filterable=True)
        model_info = gr.Markdown(elem_id="model-info")
        thinking = gr.Checkbox(value=True, label=t("chat.thinking"), visible=first.hybrid, elem_id="chat-thinking",
                               info=t("chat.thinking_info"))
        budget = budget_box(visible=first.thinks, elem_id="chat-budget")
        system_prompt = gr.Textbox(value="", label=t("chat.system_prompt"), placeholder=t("chat.optional"), lines=2)
        window = first.window(context_limit)
        controls = SamplingControls.build(preset, max_tokens=window)
        reset = gr.Button(t("chat.reset"), size="sm", elem_id="reset-preset")

    meter = gr.Markdown(elem_id="context-meter", render=False)
    chatbot = gr.Chatbot(label=t("chat.chat"), latex_delimiters=LATEX_DELIMITERS, height="65vh", editable="user",
                         elem_id="chatbot", show_label=False, buttons=["copy"])
    meter.render()
    textbox = gr.Textbox(label=t("chat.message"), show_label=False, placeholder=t("chat.placeholder"),
                         autofocus=True, submit_btn=t("chat.send"), stop_btn=False, elem_id="chat-input", lines=1,
                         max_lines=8)
    gr.Markdown(elem_id="queued-hint")
    t("chat.stop")  # the message box's Stop label, shown only while a reply streams (`sending`): the page needs it
    copy_as_code(engine, SLOT)

    stops = Stops()
    inputs = [model, system_prompt, thinking, *controls.components, budget]
    turn = dict(outputs=[textbox, chatbot, meter], api_visibility="private", trigger_mode="once")
    after = dict(api_visibility="private", queue=False)

    def finished(event: Any) -> None:
        """After every reply: buttons back, the conversation kept, the meter updated, queued text sent."""
        event.then(idle_textbox, None, textbox, **after).then(
            keep, [conversations, conversation_id, chatbot], [conversation_id, conversations, chat_list], **after
        ).then(None, js=SEND_QUEUED_JS, **after)

    send_fn, regenerate_fn = bound(send, engine, stops), bound(regenerate, engine, stops)
    finished(textbox.submit(send_fn, [textbox, chatbot, *inputs], **turn))
    finished(chatbot.example_select(example_text, None, textbox, **after).then(
        send_fn, [textbox, chatbot, *inputs], **turn))
    finished(chatbot.retry(regenerate_fn, [chatbot, *inputs], **turn))
    finished(chatbot.edit(edit, chatbot, chatbot, **after).then(
        regenerate_fn, [chatbot, *inputs], **turn))
    max_tokens = controls.components[-2]
    finished(chatbot.option_select(option, [max_tokens, thinking], [max_tokens, thinking], **after).then(
        regenerate_fn, [chatbot, *inputs], **turn))
    chatbot.undo(undo, chatbot, [chatbot, textbox], **after).then(
        keep, [conversations, conversation_id, chatbot], [conversation_id, conversations, chat_list], **after)
    textbox.stop(bound(stop, stops), chatbot, chatbot, api_visibility="private", concurrency_limit=None)

    # Conversations: kept in the browser, listed in the left sidebar.
    page.load(list_conversations, conversations, chat_list, **after)
    conversations.change(list_conversations, conversations, chat_list, **after)
    chat_list.input(open_conversation, [conversations, chat_list], [conversation_id, chatbot, title, meter],
                    **after)
    new_chat.click(new_conversation, None, [conversation_id, chatbot, chat_list, meter], **after)
    chatbot.clear(delete_conversation, [conversations, conversation_id],
                  [conversation_id, chatbot, conversations, chat_list, meter], **after)
    rename_button.click(rename_conversation, [conversations, conversation_id, title], [conversations, chat_list],
                        **after)
    delete_button.click(delete_conversation, [conversations, conversation_id],
                        [conversation_id, chatbot, conversations, chat_list, meter], **after)

    # Settings: presets follow the model and mode except where the user set a value; kept in the browser.
    follow = bound(follow_model, catalog, registry, context_limit)
    follow_outputs = [thinking, budget, *controls.preset_components, max_tokens, model_info]
    for trigger in (model.input, thinking.input):
        trigger(follow, [model, thinking, touched, max_tokens], follow_outputs, **after)
    for name, component in zip([f.name for f in fields(Sampling)], controls.components, strict=True):
        component.input(functools.partial(touch, name), touched, touched, **after)
    reset.click(functools.partial(reset_to_preset, catalog, context_limit), [model, thinking],
                [*controls.components[:-1], touched], **after)
    refresh_choices = bound(fresh_choices, registry, models)
    model.focus(refresh_choices, None, model, **after)
    page.load(examples, None, chatbot, **after)
    page.load(refresh_choices, None, model, **after).then(
        functools.partial(restore, catalog), [saved_settings, model],
        [model, thinking, system_prompt, touched, *controls.components], **after).then(
        follow, [model, thinking, touched, max_tokens], follow_outputs, **after)
    gr.on([c.change for c in (model, thinking, system_prompt, *controls.components)], remember,
          [model, thinking, system_prompt, touched, *controls.components], saved_settings, **after)

    # The public /chat endpoint (its own per-session conversation, not the browser's).
    api_response = gr.JSON(visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(bound(chat, engine, stops), [textbox, api_history, *inputs],
                     [api_response, api_history], api_name="chat", postprocess=False)

    def followed(event: Any) -> Any:
        return event.then(follow, [model, thinking, touched, max_tokens], follow_outputs, **after)

    return ChatTab(chatbot=chatbot, sidebars=(chats_sidebar, settings_sidebar), model=model, follow=followed)


if __name__ == "__main__":
    from playground.services import create_services
    from playground.settings import Settings
    from tabs.i18n import translations

    services = create_services(Settings.from_sources())
    with gr.Blocks(title=say(None, TITLE)) as app:
        page = Page.build(app)
        build(services.catalog, services.engine, services.registry, page, services.settings.context_limit)
        page.finish()
    app.launch(js=JS, i18n=translations())
