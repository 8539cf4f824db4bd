"""The playground as an OpenAI-compatible server: `GET /v1/models` and `POST /v1/chat/completions`.

A room of learners runs the lesson's `openai` client code against the workshop machine while
others use the browser: every request goes through the app's own `Engine` (same registry,
batching, input limits and monitor as the tabs) and is held to the same per-address and rate
limits (`playground.admission`). What a body says becomes the one `Request` shape:

- `messages`: roles system, user and assistant; content as a string or parts (`text`, and
  `image_url` as a `data:` URL only, for vision models, checked by `playground.media`). Other
  roles, part types and remote image URLs are refused with a sentence saying what to send.
- sampling: `temperature`, `top_p`, `top_k` (-1 or 0: off), `min_p`, `repetition_penalty`,
  `max_tokens` / `max_completion_tokens`, `seed`; what the client leaves out is the model's
  catalogue preset for the thinking mode, as the Chat tab's controls start.
- thinking: `chat_template_kwargs.enable_thinking`; absent, thinking is on, as the Chat tab starts
  (models that do not think, or always think, ignore it there too).
- `stream` and `stream_options.include_usage`.
- Fields that do not change the reply are accepted and ignored (`IGNORED`); fields that would
  (`stop`, `tools`, `logprobs`, `response_format`, ...) are refused with a 400 unless they ask for
  what happens anyway (`NEUTRAL`: `n` 1, a penalty of 0, `logprobs` false, ...). Unknown fields
  are refused too: nothing a client asks for is silently not done.

Replies stream as `chat.completion.chunk`s (thinking in `delta.reasoning_content`, the answer in
`delta.content`), with SSE comment lines while the model loads; errors come in OpenAI's shape
(`ApiError`). A client that goes away stops its request, waiting or generating. The synchronous
engine runs in worker threads of this API's own pool, so neither the event loop nor the Gradio
handlers' threads wait on it. Nothing here knows about Gradio.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from playground.admission import Admission, address_of
from playground.catalog import Catalog, ModelSpec, Sampling
from playground.engine import Engine
from playground.errors import (
    DoesNotFitError,
    InvalidRequestError,
    ModelLoadError,
    OutOfMemory,
    PlaygroundError,
    PromptTooLongError,
    UnknownModelError,
)
from playground.media import IMAGE_TYPES, MAX_IMAGE_BYTES, probe
from playground.requests import (
    Answer,
    Cancel,
    Event,
    Finish,
    InputLimits,
    Loading,
    Metrics,
    Notice,
    Request,
    Thinking,
    sampling_from,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

OWNER = "qwen-playground"
MAX_PIXELS = 1_000_000  # per image, as the Vision tab starts: about 1,300 visual tokens for Qwen2.5-VL
ROLES = ("system", "user", "assistant")

# Body fields, by what is done with them.
SAMPLING = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p",
            "repetition_penalty": "repetition_penalty", "max_tokens": "max_new_tokens",
            "max_completion_tokens": "max_new_tokens", "seed": "seed"}
USED = frozenset({"model", "messages", "stream", "stream_options", "chat_template_kwargs", *SAMPLING})
IGNORED = frozenset({"user", "metadata", "store", "service_tier", "parallel_tool_calls", "prompt_cache_key",
                     "safety_identifier"})  # bookkeeping: the reply is the same with or without them
NEUTRAL: Mapping[str, Callable[[Any], bool]] = {  # refused unless they ask for what happens anyway
    "n": lambda v: v == 1 and not isinstance(v, bool),
    "presence_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "frequency_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "logprobs": lambda v: v is False,
    "top_logprobs": lambda v: v == 0 and not isinstance(v, bool),
    "stop": lambda v: v in ("", []),
    "tools": lambda v: v == [],
    "tool_choice": lambda v: v in ("none", "auto"),
    "functions": lambda v: v == [],
    "function_call": lambda v: v in ("none", "auto"),
    "logit_bias": lambda v: v == {},
    "response_format": lambda v: v == {"type": "text"},
    "modalities": lambda v: v == ["text"],
}
WHY_NOT = {
    "n": "send one request per reply (with different seeds for different replies)",
    "presence_penalty": "use repetition_penalty (above 1 discourages repeats)",
    "frequency_penalty": "use repetition_penalty (above 1 discourages repeats)",
    "logprobs": "log probabilities are not returned",
    "top_logprobs": "log probabilities are not returned",
    "stop": "the model stops at its end of turn or at max_tokens; cut the text yourself",
    "tools": "tool calling is not supported here",
    "tool_choice": "tool calling is not supported here",
    "functions": "tool calling is not supported here",
    "function_call": "tool calling is not supported here",
    "logit_bias": "token biases are not supported",
    "response_format": "structured output is not supported; ask for JSON in the message instead",
    "modalities": "replies are text only",
    "audio": "replies are text only",
    "reasoning_effort": "switch thinking with chat_template_kwargs.enable_thinking instead",
}
MIME_SUFFIX = {f"image/{s.lstrip('.')}": s for s in IMAGE_TYPES} | {"image/jpg": ".jpg"}
DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,", re.IGNORECASE)


class ApiError(Exception):
    """An error as an OpenAI client reads it: an HTTP status and `{"error": {message, type, param, code}}`."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def api_error(exc: BaseException, reference: str) -> ApiError:
    """The `ApiError` for what the engine raised; anything that is not a `PlaygroundError` is a bug (500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownModelError):
        return ApiError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, PromptTooLongError):
        return ApiError(400, str(exc), code="context_length_exceeded", param="messages")
    if isinstance(exc, InvalidRequestError):
        return invalid(str(exc))
    codes = {DoesNotFitError: "model_does_not_fit", ModelLoadError: "model_load_failed",
             OutOfMemory: "out_of_memory"}
    if isinstance(exc, PlaygroundError):  # what the server cannot do now: another model, later, may work
        code = next((c for kind, c in codes.items() if isinstance(exc, kind)), "unavailable")
        return ApiError(503, str(exc), kind="server_error", code=code)
    return ApiError(500, f"Something went wrong on the server (reference {reference}). Try again; if it happens "
                    "again, tell whoever runs this app that reference: the details are in its log.",
                    kind="server_error", code="internal_error")


# --- a body -> a Request (no HTTP here) ----------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A chat completion request, translated: what to generate and how to send it back."""

    request: Request
    stream: bool = False
    include_usage: bool = False


class Uploads:
    """A temporary folder for the images of one request, made on the first one; `cleanup` removes it."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self.count = 0

    def write(self, data: bytes, suffix: str) -> Path:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="playground-api-")
        self.count += 1
        path = Path(self._folder.name) / f"image-{self.count}{suffix}"
        path.write_bytes(data)
        return path

    def cleanup(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def check_fields(body: Mapping[str, Any]) -> None:
    """`ApiError` for the first field that would change the reply in a way this server does not do."""
    for name, value in body.items():
        if value is None or name in USED or name in IGNORED:
            continue
        if name in NEUTRAL and NEUTRAL[name](value):
            continue
        if name in NEUTRAL or name in WHY_NOT:
            raise invalid(f"{name}={json.dumps(value)[:60]} is not supported here: {WHY_NOT[name]}.", param=name)
        raise invalid(f"Unknown field {name!r}: this server takes {', '.join(sorted(USED))} (and ignores "
                      f"{', '.join(sorted(IGNORED))}).", param=name)


def thinking_of(body: Mapping[str, Any]) -> bool:
    """`chat_template_kwargs.enable_thinking`, or True (the Chat tab's default) when absent."""
    kwargs = body.get("chat_template_kwargs")
    if kwargs is None:
        return True
    if not isinstance(kwargs, Mapping):
        raise invalid("chat_template_kwargs must be an object, e.g. {\"enable_thinking\": false}.",
                      param="chat_template_kwargs")
    other = sorted(set(kwargs) - {"enable_thinking"})
    if other:
        raise invalid(f"chat_template_kwargs takes only enable_thinking here, not {', '.join(other)}.",
                      param="chat_template_kwargs")
    value = kwargs.get("enable_thinking")
    if value is None:
        return True
    if not isinstance(value, bool):
        raise invalid(f"chat_template_kwargs.enable_thinking must be true or false, got {json.dumps(value)}.",
                      param="chat_template_kwargs.enable_thinking")
    return value


def sampling_of(body: Mapping[str, Any], base: Sampling) -> Sampling:
    """`base` (the model's preset) with the numbers the client gave, each checked against its range."""
    given = {name: body[name] for name in SAMPLING if body.get(name) is not None}
    if given.keys() >= {"max_tokens", "max_completion_tokens"} and given["max_tokens"] != \
            given["max_completion_tokens"]:
        raise invalid("max_tokens and max_completion_tokens differ: send one of them.", param="max_tokens")
    sampling = base
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"{name} must be a number, got {json.dumps(value)[:40]}.", param=name)
        if name == "top_k" and value == -1:  # vLLM's "off"
            value = 0
        ours = SAMPLING[name]
        try:
            sampling = sampling_from({ours: value}, sampling).validate()
        except InvalidRequestError as exc:
            raise invalid(str(exc).replace(ours, name), param=name) from None
    return sampling


def image_part(part: Mapping[str, Any], where: str, uploads: Uploads) -> dict[str, Any]:
    """An `image_url` part as the engine's image part: a `data:` URL decoded, written and probed."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise invalid("An image_url part needs {\"url\": \"data:image/png;base64,...\"}.", param=where)
    if not url.startswith("data:"):
        scheme = url.split(":", 1)[0] if ":" in url else "a bare path"
        raise invalid(f"Images are taken as data: URLs only, not {scheme} URLs (this server fetches nothing): send "
                      "the file's bytes, e.g. \"data:image/png;base64,\" + base64.b64encode(data).decode().",
                      param=where)
    match = DATA_URL.match(url)
    mime = (match.group(1) or "").lower() if match else ""
    if not match or not match.group(3):
        raise invalid("An image data: URL must be base64, as data:image/png;base64,<the bytes>.", param=where)
    if mime not in MIME_SUFFIX:
        raise invalid(f"{mime or 'An image without a type'} is not an image type this server reads: send "
                      f"{', '.join(sorted(MIME_SUFFIX))}.", param=where)
    encoded = url[match.end():]
    if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES:
        raise invalid(f"The image is over {MAX_IMAGE_BYTES // 2**20} MB; images up to that are accepted here. "
                      "Send a smaller one.", param=where)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("The image's data: URL is not valid base64.", param=where) from None
    path = uploads.write(data, MIME_SUFFIX[mime])
    try:
        probe(path)  # type, size, pixels, a damaged file: refused here, with a sentence
    except InvalidRequestError as exc:
        raise invalid(str(exc), param=where) from None
    return {"type": "image", "image": str(path), "max_pixels": MAX_PIXELS}


def content_of(content: Any, where: str, role: str, spec: ModelSpec, uploads: Uploads) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(f"{where} must be a string or a list of parts.", param=where)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise invalid(f"{at}.text must be a string.", param=at)
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            if role != "user":
                raise invalid(f"Images go in user messages, not in a {role} message.", param=at)
            if not spec.is_vision:
                raise invalid(f"{spec.key} reads text only: pick a vision model (Qwen-VL) for images.", param=at)
            parts.append(image_part(part, at, uploads))
        else:
            raise invalid(f"{at} is a {kind!r} part; this server takes text and image_url (data: URL) parts.",
                          param=at)
    return parts


def messages_of(body: Mapping[str, Any], spec: ModelSpec, limits: InputLimits,
                uploads: Uploads) -> list[dict[str, Any]]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise invalid("messages must be a non-empty list of {\"role\": ..., \"content\": ...}.", param="messages")
    messages = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise invalid(f"{where} must be an object with role and content.", param=where)
        role = message.get("role")
        if role not in ROLES:
            raise invalid(f"{where} has role {role!r}; this server takes system, user and assistant messages "
                          "(no tools).", param=f"{where}.role")
        extra = [k for k, v in message.items() if k not in ("role", "content", "name", "reasoning_content")
                 and v not in (None, [])]
        if extra:
            raise invalid(f"{where} has {', '.join(extra)}, which this server does not take (no tools).",
                          param=f"{where}.{extra[0]}")
        content = message.get("content")
        if content is None:
            raise invalid(f"{where} has no content.", param=f"{where}.content")
        if isinstance(content, list):  # counted before any image is decoded
            try:
                limits.check_files(sum(isinstance(p, Mapping) and p.get("type") == "image_url" for p in content))
            except InvalidRequestError as exc:
                raise invalid(str(exc), param=f"{where}.content") from None
        converted = {"role": role, "content": content_of(content, f"{where}.content", role, spec, uploads)}
        try:
            limits.check([converted])
        except InvalidRequestError as exc:
            raise invalid(str(exc), param=f"{where}.content") from None
        messages.append(converted)
    return messages


def chat_request(body: Any, catalog: Catalog, limits: InputLimits, uploads: Uploads, client: str = "",
                 reference: str | None = None) -> Asked:
    """The `Request` a chat completion body asks for, checked as the engine checks it; else `ApiError`.

    Images are written to `uploads` (the caller removes them once the request has ended).
    """
    if not isinstance(body, Mapping):
        raise invalid("The body must be a JSON object, as the openai client sends.")
    check_fields(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model is required: one of the ids GET /v1/models lists.", param="model")
    spec = catalog.get(model)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream must be true or false.", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, Mapping) or not isinstance(options.get("include_usage", False), bool):
        raise invalid("stream_options must be {\"include_usage\": true or false}.", param="stream_options")
    thinking = thinking_of(body)
    sampling = sampling_of(body, spec.sampling_for(thinking and spec.thinks))
    messages = messages_of(body, spec, limits, uploads)
    request = Request(model=model, messages=messages, sampling=sampling, thinking=thinking, client=client)
    if reference is not None:
        request = replace(request, id=reference)
    try:
        request.validated(limits)
    except InvalidRequestError as exc:
        raise invalid(str(exc), param="messages") from None
    return Asked(request, bool(stream), bool(options.get("include_usage")))


# --- replies in OpenAI's shapes ------------------------------------------------------------------


FINISH = {Finish.STOP: "stop", Finish.LENGTH: "length", Finish.CANCELLED: "stop"}


def usage_of(metrics: Metrics | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return {"prompt_tokens": metrics.prompt_tokens, "completion_tokens": metrics.tokens,
            "total_tokens": metrics.prompt_tokens + metrics.tokens,
            "completion_tokens_details": {"reasoning_tokens": metrics.thinking_tokens}}


def completion(request: Request, created: int, thinking: str, answer: str, metrics: Metrics | None) -> dict[str, Any]:
    """A whole `chat.completion`."""
    message = {"role": "assistant", "content": answer, "reasoning_content": thinking or None}
    finish = FINISH[metrics.finish] if metrics is not None else "stop"
    return {"id": f"chatcmpl-{request.id}", "object": "chat.completion", "created": created, "model": request.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage_of(metrics)}


class Chunks:
    """The `chat.completion.chunk` events of one streamed reply, as SSE lines."""

    def __init__(self, asked: Asked, created: int):
        self.asked, self.created = asked, created

    def chunk(self, delta: Mapping[str, Any] | None, finish: str | None = None,
              usage: dict[str, Any] | None = None) -> str:
        """One chunk; `delta` None: the usage chunk (no choices)."""
        request = self.asked.request
        body: dict[str, Any] = {"id": f"chatcmpl-{request.id}", "object": "chat.completion.chunk",
                                "created": self.created, "model": request.model,
                                "choices": [] if delta is None else
                                [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}]}
        if self.asked.include_usage:
            body["usage"] = usage
        return data(body)

    def events(self, event: Event) -> Iterator[str]:
        if isinstance(event, Thinking) and event.text:
            yield self.chunk({"reasoning_content": event.text})
        elif isinstance(event, Answer) and event.text:
            yield self.chunk({"content": event.text})
        elif isinstance(event, Loading):  # a comment: keeps the client (and any proxy) from timing out
            progress = f", {event.progress:.0%}" if event.progress is not None else ""
            yield f": loading {event.model} ({event.stage}{progress}, {event.seconds:.0f} s)\n\n"
        elif isinstance(event, Notice):
            yield f": notice {event.code.value} {json.dumps(dict(event.params))}\n\n"
        elif isinstance(event, Metrics):
            yield self.chunk({}, FINISH[event.finish])
            if self.asked.include_usage:
                yield self.chunk(None, usage=usage_of(event))


def data(body: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


# --- HTTP ------------------------------------------------------------------------------------------


class Clients:
    """API requests running or waiting, per address and in all: the admission's counts for this API."""

    def __init__(self, admission: Admission, capacity: int):
        self.admission, self.capacity = admission, capacity
        self._lock = threading.Lock()
        self._outstanding: dict[str, int] = {}

    def enter(self, address: str) -> None:
        """Count one more request from `address`, or `ApiError` 429 (limits) or 503 (full) without counting."""
        with self._lock:
            mine = self._outstanding.get(address, 0)
            refused = self.admission.check(address, 0, mine)  # an API client is its address: no session
            if refused is not None:
                headers = {"Retry-After": str(refused.wait_s)} if refused.wait_s is not None else None
                raise ApiError(429, refused.text, kind="rate_limit_error", code="rate_limit_exceeded", headers=headers)
            if sum(self._outstanding.values()) >= self.capacity:
                raise ApiError(503, self.admission.busy(), kind="server_error", code="server_busy")
            self._outstanding[address] = mine + 1
        self.admission.sent(address)

    def leave(self, address: str) -> None:
        with self._lock:
            left = self._outstanding.get(address, 1) - 1
            if left > 0:
                self._outstanding[address] = left
            else:
                self._outstanding.pop(address, None)

    def outstanding(self, address: str) -> int:
        with self._lock:
            return self._outstanding.get(address, 0)


async def until_disconnect(receive: Receive, cancel: Cancel, work: Callable[[], Awaitable[T]]) -> T:
    """`work()`, setting `cancel` if the client goes away meanwhile (the request body has been read by then)."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        cancel.set()

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            result = await work()
        except Exception as exc:  # raised after the group, not wrapped in an ExceptionGroup
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


class EventStream(Response):
    """`text/event-stream` from `lines`; a client that goes away sets `cancel`, which ends the lines soon.
    `ended` runs once the stream is over, however it ended."""

    media_type = "text/event-stream"

    def __init__(self, lines: AsyncGenerator[str, None], cancel: Cancel, ended: Callable[[], Awaitable[None]]):
        self.lines, self.cancel, self.ended = lines, cancel, ended
        self.status_code, self.background = 200, None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stream() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for line in self.lines:
                await send({"type": "http.response.body", "body": line.encode(), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            await until_disconnect(receive, self.cancel, stream)
        except OSError:  # the client went away (servers on ASGI 2.4 raise on send)
            self.cancel.set()
        finally:
            with anyio.CancelScope(shield=True):
                await self.lines.aclose()
                await self.ended()


class OpenAIApi:
    """The routes' endpoints, over the app's engine. API clients are held to `admission`'s limits, and at most
    `capacity` API requests run or wait at once, each holding at most one of this API's worker threads (so
    requests waiting for a model never take the threads Gradio's handlers run in)."""

    def __init__(self, engine: Engine, admission: Admission, capacity: int, api_key: str | None = None):
        self.engine, self.api_key = engine, api_key
        self.clients = Clients(admission, capacity)
        self.threads = anyio.CapacityLimiter(capacity)
        self.created = int(time.time())

    @property
    def catalog(self) -> Catalog:
        return self.engine.registry.catalog

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model:path}", self.model, methods=["GET"]),
                Route("/v1/chat/completions", self.chat_completions, methods=["POST"])]

    def authorize(self, request: HttpRequest) -> None:
        if self.api_key is None:
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            return
        said = "No API key was sent" if not key.strip() else "The API key is not this server's"
        raise ApiError(401, f"{said}: send the key the app was started with (PLAYGROUND_API_KEY) as "
                       "Authorization: Bearer <key>, which is the openai client's api_key.",
                       kind="authentication_error", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    def model_entry(self, spec: ModelSpec) -> dict[str, Any]:
        return {"id": spec.key, "object": "model", "created": self.created, "owned_by": OWNER}

    async def models(self, request: HttpRequest) -> Response:
        try:
            self.authorize(request)
        except ApiError as exc:
            return exc.response()
        listed = [self.model_entry(spec) for spec in self.catalog if spec.unavailable is None]
        return JSONResponse({"object": "list", "data": listed})

    async def model(self, request: HttpRequest) -> Response:
        try:
            self.authorize(request)
            spec = self.catalog.get(request.path_params["model"])
        except (ApiError, UnknownModelError) as exc:
            return api_error(exc, "").response()
        return JSONResponse(self.model_entry(spec))

    async def chat_completions(self, request: HttpRequest) -> Response:
        reference = uuid.uuid4().hex[:8]  # the request's id: in its log line, and in a 500's message
        address = address_of(request)
        uploads = Uploads()
        entered = streaming = False
        try:
            self.authorize(request)
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError) as exc:
                raise invalid(f"The body is not valid JSON ({exc}).") from None
            self.clients.enter(address)
            entered = True
            asked = await anyio.to_thread.run_sync(chat_request, body, self.catalog, self.engine.limits, uploads,
                                                   f"api:{address}", reference, limiter=self.threads)
            cancel = Cancel()
            events = self.pulled(self.engine.stream(asked.request, cancel))
            if not asked.stream:
                return JSONResponse(await until_disconnect(request.receive, cancel,
                                                           functools.partial(collected, asked, events)))
            try:  # what fails at once (a prompt too long, a bad image) still gets its own status
                first = await anext(events, None)
            except BaseException:
                await events.aclose()
                raise

            async def ended() -> None:
                await events.aclose()
                self.clients.leave(address)
                uploads.cleanup()

            streaming = True
            return EventStream(self.lines(asked, first, events), cancel, ended)
        except Exception as exc:
            return self.failed(exc, reference).response()
        finally:
            if not streaming:
                if entered:
                    self.clients.leave(address)
                uploads.cleanup()

    def failed(self, exc: BaseException, reference: str) -> ApiError:
        error = api_error(exc, reference)
        if error.status == 500:
            log.error("API request %s failed", reference, exc_info=exc)
        return error

    async def pulled(self, events: Iterator[Event]) -> AsyncGenerator[Event, None]:
        """The engine's events, each taken in one of this API's worker threads; closing this closes them
        (which stops the request, as a closed stream does)."""
        try:
            while (event := await anyio.to_thread.run_sync(next, events, None, limiter=self.threads)) is not None:
                yield event
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_close, events, limiter=self.threads)

    async def lines(self, asked: Asked, first: Event | None,
                    events: AsyncGenerator[Event, None]) -> AsyncGenerator[str, None]:
        chunks = Chunks(asked, int(time.time()))
        yield chunks.chunk({"role": "assistant", "content": ""})
        try:
            for line in chunks.events(first) if first is not None else ():
                yield line
            async for event in events:
                for line in chunks.events(event):
                    yield line
        except Exception as exc:  # the status has gone out: the error is the stream's last event
            yield data(self.failed(exc, asked.request.id).body())
            return
        yield "data: [DONE]\n\n"


async def collected(asked: Asked, events: AsyncGenerator[Event, None]) -> dict[str, Any]:
    """A whole `chat.completion` from the reply's events."""
    thinking, answer, metrics = [], [], None
    try:
        async for event in events:
            if isinstance(event, Thinking):
                thinking.append(event.text)
            elif isinstance(event, Answer):
                answer.append(event.text)
            elif isinstance(event, Metrics):
                metrics = event
    finally:
        await events.aclose()
    return completion(asked.request, int(time.time()), "".join(thinking), "".join(answer), metrics)


def _close(events: Iterator[Event]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()


def openai_routes(engine: Engine, admission: Admission, capacity: int, api_key: str | None = None) -> list[Route]:
    """`/v1/models`, `/v1/models/{id}` and `/v1/chat/completions` over `engine` (see the module docstring)."""
    return OpenAIApi(engine, admission, capacity, api_key).routes()
