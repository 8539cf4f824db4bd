"""Conversations kept in the browser: a list of {id, title, messages, updated}, newest first.

Pure functions over plain lists, so the Chat tab can keep them in a `gr.BrowserState` (the
browser's local storage) and tests can call them directly. Titles come from the first user
message; a conversation that is saved again keeps its place at the top. Nothing here knows
about models or Gradio components.

Edge cases: saving an empty conversation stores nothing; renaming to blank text keeps the old
title; deleting an id that is not there changes nothing; more than `LIMIT` conversations drop
the oldest.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

Conversation = dict[str, Any]
TITLE_CHARS = 40
LIMIT = 100


def title_of(messages: list[dict[str, Any]]) -> str:
    """The first user message, on one line, cut to `TITLE_CHARS` characters."""
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        text = " ".join(str(content or "").split())
        if text:
            return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"
    return "New chat"


def save(conversations: list[Conversation], conversation_id: str | None,
         messages: list[dict[str, Any]]) -> tuple[str | None, list[Conversation]]:
    """Store `messages` as conversation `conversation_id` (a new one if None); it moves to the top."""
    if not messages:
        return conversation_id, conversations
    existing = next((c for c in conversations if c["id"] == conversation_id), None)
    if existing is None:
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        entry = {"id": conversation_id, "title": title_of(messages), "messages": messages, "updated": time.time()}
    else:
        entry = {**existing, "messages": messages, "updated": time.time()}
    rest = [c for c in conversations if c["id"] != conversation_id]
    return conversation_id, [entry, *rest][:LIMIT]


def rename(conversations: list[Conversation], conversation_id: str | None, title: str) -> list[Conversation]:
    title = " ".join(title.split())
    if not title:
        return conversations
    return [{**c, "title": title} if c["id"] == conversation_id else c for c in conversations]


def delete(conversations: list[Conversation], conversation_id: str | None) -> list[Conversation]:
    return [c for c in conversations if c["id"] != conversation_id]


def find(conversations: list[Conversation], conversation_id: str | None) -> Conversation | None:
    return next((c for c in conversations if c["id"] == conversation_id), None)


def choices(conversations: list[Conversation]) -> list[tuple[str, str]]:
    """(title, id) pairs for a picker, newest first."""
    return [(c["title"], c["id"]) for c in conversations]
