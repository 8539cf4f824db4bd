"""A scripted OpenAI-compatible server on loopback, for tests and demos of remote models.

It speaks the chat completions API the way vLLM does with `--reasoning-parser qwen3`: it streams
a given reply chunk by chunk, thinking in `reasoning_content` deltas (or, with
`reasoning_field=False`, inline `<think>` tags as a server without a parser sends), then the
answer, a finish reason and a usage chunk. It records every request body, and which streams the
client closed before their end. The model name asked for picks a failure to act out:

    scripted    the scripted reply             slow        no answer for `slow_s` seconds
    unauthorized / forbidden   401 / 403       limited     429 with Retry-After: 7
    broken      500                            overloaded  503
    cut         a few chunks, then the connection drops mid-reply
    (any other) 404, as vLLM answers for a model it does not serve

    server = FakeOpenAI(reply="<think>Hmm.</think>Hello!").start()
    ... base_url = server.base_url ...
    server.stop()
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devtools.launch import LoopbackServer
from playground.tasks.thinking import split_thinking

SERVED = "scripted"
FAILURES = {"unauthorized": 401, "forbidden": 403, "limited": 429, "broken": 500, "overloaded": 503}
WAITING = ("slow",)
CUT = "cut"


@dataclass
class FakeOpenAI:
    reply: str = "<think>\nLet me think.\n</think>\n\nHello from the server!"
    reasoning_field: bool = True  # thinking in `reasoning_content` (a reasoning parser), else inline tags
    seconds_per_chunk: float = 0.0
    slow_s: float = 30.0
    api_key: str | None = None  # the bearer key it insists on, if any
    extra_fields: bool = True  # takes vLLM's extra sampling fields; False: 422 for them, as `transformers serve`
    requests: list[dict[str, Any]] = field(default_factory=list)
    closed_early: list[str] = field(default_factory=list)  # models whose stream the client closed before its end
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        app = Starlette(routes=[Route("/v1/models", self._models, methods=["GET"]),
                                Route("/v1/chat/completions", self._chat, methods=["POST"])])
        self._server = LoopbackServer(app, self.port)
        self.port = self._server.port
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the API ---------------------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "authentication_error")
        return None

    async def _models(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        return JSONResponse({"object": "list", "data": [{"id": SERVED, "object": "model", "owned_by": "fake"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        refused = self._refused(request)
        if refused is not None:
            return refused
        model = body.get("model")
        unexpected = sorted({"top_k", "min_p", "repetition_penalty"} & set(body))
        if unexpected and not self.extra_fields:
            return JSONResponse({"detail": f"Unexpected fields in the request: {set(unexpected)}"}, status_code=422)
        if model in FAILURES:
            status = FAILURES[model]
            headers = {"Retry-After": "7"} if status == 429 else None
            return _error(status, f"Scripted failure {status}.", "server_error", headers)
        if model in WAITING:
            await asyncio.sleep(self.slow_s)
        elif model not in (SERVED, CUT):
            return _error(404, f"The model `{model}` does not exist.", "NotFoundError")
        chunks = self._chunks(model, body)
        if not body.get("stream"):
            return JSONResponse(self._whole(model, chunks))
        return StreamingResponse(self._stream(model, chunks), media_type="text/event-stream")

    def _chunks(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The deltas of the reply: thinking (as a parser sends it, or inline) and the answer, word by word."""
        split = split_thinking(self.reply)
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        thinking_off = (body.get("chat_template_kwargs") or {}).get("enable_thinking") is False
        if split.thinking and not thinking_off:
            if self.reasoning_field:
                deltas += [{"reasoning_content": word} for word in _words(split.thinking)]
            else:
                deltas += [{"content": word} for word in _words(f"<think>\n{split.thinking}\n</think>\n\n")]
        deltas += [{"content": word} for word in _words(split.answer)]
        limit = body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(deltas) - 1 > limit:
            deltas, finish = deltas[: limit + 1], "length"
        chunks = [{"delta": d, "finish_reason": None} for d in deltas]
        chunks[-1]["finish_reason"] = finish
        return chunks

    def _whole(self, model: str, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        content = "".join(c["delta"].get("content", "") for c in chunks)
        reasoning = "".join(c["delta"].get("reasoning_content", "") for c in chunks) or None
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                     "reasoning_content": reasoning},
                             "finish_reason": chunks[-1]["finish_reason"]}],
                "usage": _usage(len(chunks) - 1)}

    async def _stream(self, model: str, chunks: list[dict[str, Any]]):
        finished = False
        try:
            for number, chunk in enumerate(chunks):
                if model == CUT and number == 4:
                    raise ConnectionAbortedError("scripted: the connection drops mid-reply")
                yield _sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "choices": [{"index": 0, **chunk}]})
                if self.seconds_per_chunk:
                    await asyncio.sleep(self.seconds_per_chunk)
            yield _sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": model, "choices": [], "usage": _usage(len(chunks) - 1)})
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            if not finished and model != CUT:
                self.closed_early.append(model)


def _words(text: str) -> list[str]:
    """Text in pieces of about a word, spaces kept, as a server streams tokens."""
    pieces, current = [], ""
    for char in text:
        current += char
        if char in " \n":
            pieces.append(current)
            current = ""
    return [*pieces, current] if current else pieces


def _usage(tokens: int) -> dict[str, int]:
    return {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens}


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"object": "error", "message": message, "type": kind, "code": status}, status_code=status,
                        headers=headers)
