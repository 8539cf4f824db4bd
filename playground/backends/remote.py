"""The backend for a model another server runs: any OpenAI-compatible API (vLLM, SGLang, `transformers serve`,
DashScope, Inference Providers), through the official `openai` client.

`RemoteBackend.stream(request, cancel)` sends the request as a streamed chat completion and turns
the chunks into the same events a local model gives: thinking from the server's separate field
(`reasoning_content`, or `reasoning` in newer vLLM) or from `<think>` tags in the content (a server
without a reasoning parser), the answer, and `Metrics` from the stream (`usage` where the server
sends it, else counted chunks). How requests map onto the API:

- sampling: temperature, top_p, max_tokens and seed as standard fields; top_k, min_p and
  repetition_penalty as the extra body vLLM and SGLang accept, sent only when they do something;
  a server that refuses them (`transformers serve` answers 422) is asked again without them, from
  then on, and the reply says which were left out;
- the thinking switch of a hybrid model as `chat_template_kwargs.enable_thinking`;
- images as data: URLs (scaled to the request's max pixels), videos as data: URLs of the file;
- a continued reply (the Math tab's tool loop) as a final assistant message with
  `continue_final_message` (vLLM's and SGLang's extra fields);
- raw text to go on from (fill in the middle) through the completions API.

Stop closes the stream, so the server stops generating too. Every failure becomes a
`RemoteError` naming the server: refused, timed out, a key it does not take, a model it does not
have, rate limiting (with its Retry-After), its own errors, a reply cut off mid-way. A thinking
budget needs the model's tokens as they are written, which the API does not give: it is refused.
Its sentences are keys of `locales/en/remote.toml`; the server's own words are passed in as they are.

`RemoteModels` makes each remote model's backend (one client per model) and checks, in the
background, whether its server answers, for the Models tab and /health.
"""

from __future__ import annotations

import base64
import importlib
import io
import mimetypes
import os
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from playground.catalog import Catalog, ModelSpec, Sampling
from playground.errors import InvalidRequestError, PlaygroundError
from playground.i18n import Said
from playground.requests import (
    Answer,
    Cancel,
    Event,
    Finish,
    Message,
    Metrics,
    Notice,
    NoticeCode,
    Request,
    Thinking,
)
from playground.tasks.thinking import ThinkingSplitter

CONNECT_TIMEOUT_S = 10.0
CHECK_TIMEOUT_S = 3.0  # a reachability check
CHECK_EVERY_S = 30.0
NO_KEY = "EMPTY"  # what vLLM's docs send when the server wants no key; the client insists on one
# The HTTP library the openai client speaks through: httpx, or its successor httpx2 from openai 3 on. Its errors
# (a connection cut mid-stream) reach us as they are, and its Timeout is the only one the client takes.
http = httpx if openai.Timeout is httpx.Timeout else importlib.import_module("httpx2")


class RemoteError(PlaygroundError):
    """The model's server could not be reached or refused or failed the request."""


class RemoteBackend:
    """Serves one remote catalogue model through `client`."""

    name = "remote"

    def __init__(self, spec: ModelSpec, client: openai.OpenAI | None = None, environ: Mapping[str, str] | None = None):
        assert spec.remote is not None, f"{spec.key} is not a remote model"
        self.spec, self.remote = spec, spec.remote
        self.environ = os.environ if environ is None else environ
        self.client = client or make_client(spec, self.environ)
        self.standard_only = False  # the server refused the extra sampling fields: send only the standard ones

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Events of one reply; `cancel` receives the final metrics, also when the caller stops listening."""
        if request.thinking_budget is not None:
            raise InvalidRequestError("remote.no_budget", model=self.spec.key, url=self.remote.base_url)
        reply = Reply(self.spec, request, time.perf_counter())
        try:
            stream = yield from self._opened(request)
        except Exception as exc:
            cancel.finish(None)
            raise self._failure(exc) from exc
        try:
            with stream:
                for chunk in stream:
                    yield from reply.take(chunk)
                    if cancel.is_set():
                        break  # leaving `with` closes the connection: the server stops generating
            yield from reply.flush()
        except GeneratorExit:  # the caller stopped listening: close the stream (above), not just the text
            cancel.set()
            cancel.finish(reply.metrics(cancelled=True))
            raise
        except (openai.OpenAIError, http.HTTPError) as exc:
            cancel.finish(reply.metrics(cancelled=cancel.is_set()))
            raise self._failure(exc, partial=reply.started) from exc
        if not cancel.is_set() and reply.finish is None:
            cancel.finish(reply.metrics(cancelled=False))
            raise self._cut(partial=reply.started)
        final = reply.metrics(cancelled=cancel.is_set())
        cancel.finish(final)
        yield final

    def _opened(self, request: Request) -> Generator[Event, None, Any]:
        """The reply's stream. A server that refuses the extra sampling fields is asked again without them, and a
        notice says which were left out."""
        try:
            return self._open(request)
        except openai.APIStatusError as exc:
            dropped = self._refused_extras(exc, request.sampling)
            if not dropped:
                raise
        yield Notice(NoticeCode.SAMPLING_LEFT_OUT, {"fields": dropped, "server": self.remote.base_url})
        return self._open(request)

    def _refused_extras(self, exc: openai.APIStatusError, sampling: Sampling) -> list[str]:
        """The extra sampling fields a server refused (as `transformers serve` does: 422, "Unexpected fields"),
        which are then no longer sent to it; empty if the refusal was about something else."""
        sent = [name for name in extra_sampling(sampling) if name in _said(exc)]
        if exc.status_code not in (400, 422) or not sent or self.standard_only:
            return []
        self.standard_only = True
        return sent

    def _open(self, request: Request) -> Any:
        sampling = request.sampling
        extra = {} if self.standard_only else extra_sampling(sampling)
        if request.completion is not None:  # raw text to go on from: the completions API, no template
            return self.client.completions.create(model=self.remote.model, prompt=request.completion, stream=True,
                                                  stream_options={"include_usage": True}, extra_body=extra or None,
                                                  **standard_sampling(sampling))
        messages = [api_message(m) for m in request.messages]
        if request.continuation is not None:
            written = request.continuation.text(opened_by_prompt=self.spec.thinks and not self.spec.hybrid)
            messages.append({"role": "assistant", "content": written})
            extra.update(continue_final_message=True, add_generation_prompt=False)
        if self.spec.hybrid and request.thinking is not None:
            extra["chat_template_kwargs"] = {"enable_thinking": request.thinking}
        return self.client.chat.completions.create(model=self.remote.model, messages=messages, stream=True,
                                                   stream_options={"include_usage": True}, extra_body=extra or None,
                                                   **standard_sampling(sampling))

    def _failure(self, exc: BaseException, partial: bool = False) -> PlaygroundError:
        if isinstance(exc, PlaygroundError):
            return exc
        return RemoteError(failure_text(self.spec, exc, partial, self.environ))

    def _cut(self, partial: bool) -> RemoteError:
        return RemoteError("remote.ended_partial" if partial else "remote.ended", url=self.remote.base_url)

    def close(self) -> None:
        self.client.close()


class Reply:
    """One remote reply as its chunks arrive: thinking and answer split, token counts, how it finished."""

    def __init__(self, spec: ModelSpec, request: Request, arrived: float):
        self.spec, self.request, self.arrived = spec, request, arrived
        written = request.continuation.text(opened_by_prompt=False) if request.continuation else None
        self.splitter = ThinkingSplitter(plain=request.completion is not None)
        if written is not None:
            self.splitter.skip(written)
        self.chunks = self.thinking_chunks = 0
        self.first_at: float | None = None
        self.finish: Finish | None = None
        self.usage: Any = None

    @property
    def started(self) -> bool:
        return self.first_at is not None

    def take(self, chunk: Any) -> Iterator[Event]:
        if getattr(chunk, "usage", None):
            self.usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            reasoning = _field(delta, "reasoning_content") or _field(delta, "reasoning")
            content = _field(delta, "content") if delta is not None else getattr(choice, "text", None)
            if reasoning or content:
                self.chunks += 1
                self.first_at = self.first_at or time.perf_counter()
            if reasoning:
                self.thinking_chunks += 1
                yield Thinking(reasoning)
            if content:
                thinking, answer = self.splitter.feed(content)
                if thinking:
                    self.thinking_chunks += 1
                    yield Thinking(thinking)
                if answer:
                    yield Answer(answer)
            if choice.finish_reason:
                self.finish = Finish.LENGTH if choice.finish_reason == "length" else Finish.STOP

    def flush(self) -> Iterator[Event]:
        thinking, answer = self.splitter.flush()
        if thinking:
            yield Thinking(thinking)
        if answer:
            yield Answer(answer)

    def metrics(self, cancelled: bool) -> Metrics:
        usage = self.usage
        details = getattr(usage, "completion_tokens_details", None)
        reasoning = getattr(details, "reasoning_tokens", None)
        tokens = getattr(usage, "completion_tokens", None) or self.chunks
        now = time.perf_counter()
        thinking = self.request.thinking if self.spec.hybrid else (True if self.spec.thinks else None)
        return Metrics(
            model=self.spec.key,
            precision=None,
            backend=RemoteBackend.name,
            thinking=thinking if self.request.completion is None else None,
            window=self.spec.context_length or 0,
            prompt_tokens=getattr(usage, "prompt_tokens", None) or 0,
            tokens=tokens,
            thinking_tokens=reasoning if reasoning is not None else min(self.thinking_chunks, tokens),
            thinking_cut=False,
            queued_s=0.0,
            time_to_first_token_s=None if self.first_at is None else self.first_at - self.arrived,
            seconds=now - self.arrived,
            peak_memory=None,
            finish=Finish.CANCELLED if cancelled else (self.finish or Finish.STOP),
        )


def _field(obj: Any, name: str) -> Any:
    """A delta's field, also one the client's types do not know (vLLM's `reasoning_content`)."""
    if obj is None:
        return None
    value = getattr(obj, name, None)
    if value is None:
        value = (getattr(obj, "model_extra", None) or {}).get(name)
    return value


# --- the request, in the API's terms ------------------------------------------------------------


def standard_sampling(sampling: Sampling) -> dict[str, Any]:
    """The fields every OpenAI-compatible server takes (temperature 0 is greedy there too)."""
    fields: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                              "max_tokens": sampling.max_new_tokens}
    if sampling.seed is not None:
        fields["seed"] = sampling.seed
    return fields


def extra_sampling(sampling: Sampling) -> dict[str, Any]:
    """vLLM's and SGLang's extra sampling fields, where they change anything."""
    extra: dict[str, Any] = {}
    if sampling.top_k > 0:
        extra["top_k"] = sampling.top_k
    if sampling.min_p > 0:
        extra["min_p"] = sampling.min_p
    if sampling.repetition_penalty != 1.0:
        extra["repetition_penalty"] = sampling.repetition_penalty
    return extra


def api_message(message: Message) -> dict[str, Any]:
    """A message in the chat API's form: text as it is, images and videos as data: URLs."""
    content = message.get("content")
    if isinstance(content, str):
        return {"role": message["role"], "content": content}
    parts = []
    for part in content or ():
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": image_url(part["image"], part.get("max_pixels"))}})
        elif kind == "video":
            parts.append({"type": "video_url", "video_url": {"url": file_url(part["video"])}})
    return {"role": message["role"], "content": parts}


def image_url(image: Any, max_pixels: int | None = None) -> str:
    """An image (a path or a PIL image) as a PNG data: URL, scaled down to at most `max_pixels`."""
    from PIL import Image

    from playground.media import open_image

    picture = open_image(image) if isinstance(image, str | Path) else image
    if max_pixels and picture.width * picture.height > max_pixels:
        scale = (max_pixels / (picture.width * picture.height)) ** 0.5
        picture = picture.resize((max(1, int(picture.width * scale)), max(1, int(picture.height * scale))),
                                 Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def file_url(path: str | Path) -> str:
    kind = mimetypes.guess_type(str(path))[0] or "video/mp4"
    return f"data:{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode()


# --- clients and failures --------------------------------------------------------------------------


def make_client(spec: ModelSpec, environ: Mapping[str, str] | None = None, timeout_s: float | None = None
                ) -> openai.OpenAI:
    """The client for `spec`'s server: no retries (a person is waiting and is told what failed)."""
    remote = spec.remote
    assert remote is not None
    environ = os.environ if environ is None else environ
    key = environ.get(remote.api_key_env) if remote.api_key_env else None
    read = timeout_s or remote.timeout_s
    timeout = openai.Timeout(read, connect=min(CONNECT_TIMEOUT_S, read))
    return openai.OpenAI(base_url=remote.base_url, api_key=key or NO_KEY, timeout=timeout, max_retries=0)


def failure_text(spec: ModelSpec, exc: BaseException, partial: bool = False,
                 environ: Mapping[str, str] | None = None) -> Said:
    """What went wrong with `spec`'s server, naming it, and what to do (`environ`: where the key would be)."""
    remote = spec.remote
    assert remote is not None
    environ = os.environ if environ is None else environ

    def said(key: str, **params: Any) -> Said:
        return Said(f"remote.{key}", {"url": remote.base_url, "cut": Said("remote.incomplete") if partial else "",
                                      **params})

    if isinstance(exc, openai.APITimeoutError | http.TimeoutException):
        return said("timeout", seconds=remote.timeout_s)
    if isinstance(exc, openai.APIConnectionError | http.TransportError):
        if partial:
            return said("cut_mid_reply")
        return said("unreachable", reason=_cause(exc), model=spec.key)
    if isinstance(exc, openai.APIStatusError):
        status, words = exc.status_code, _said(exc)
        if status in (401, 403):
            if remote.api_key_env and not environ.get(remote.api_key_env):
                return said("key_not_set", status=status, variable=remote.api_key_env)
            fix = (Said("remote.check_key", {"variable": remote.api_key_env}) if remote.api_key_env
                   else Said("remote.add_key"))
            return said("key_refused", status=status, said=words, fix=fix)
        if status == 404:
            return said("no_such_model", name=remote.model, said=words, model=spec.key)
        if status == 429:
            after = exc.response.headers.get("retry-after") if exc.response is not None else None
            wait = (Said("remote.try_again_in", {"seconds": int(after)}) if after and after.isdigit()
                    else Said("remote.try_again_soon"))
            return said("rate_limited", said=words, wait=wait)
        if status >= 500:
            return said("server_failed", status=status, said=words)
        return said("refused", status=status, said=words)
    if isinstance(exc, openai.APIError):  # an error event in the middle of the stream
        return said("stream_error", said=exc.message)
    return said("failed", error=f"{type(exc).__name__}: {exc}")


def _said(exc: openai.APIStatusError) -> str:
    """The server's own words: its error message (OpenAI's shape, or FastAPI's `detail`), or the HTTP reason."""
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        message = (inner.get("message") or inner.get("detail")) if isinstance(inner, Mapping) else inner
        if message:
            return str(message).strip().rstrip(".")
    return exc.response.reason_phrase if exc.response is not None else str(exc)


def _cause(exc: BaseException) -> Said | str:
    """The innermost reason (connection refused, name not known) rather than the client's summary: the library's
    own words, except a refused connection, which is said in the reader's language."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc).strip()
    if "refused" in text.lower():
        return Said("remote.connection_refused")
    return text.split("] ")[-1] or type(exc).__name__


# --- every remote model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reachability:
    """Whether a remote model's server answered its last check."""

    answers: bool | None  # None: not checked yet
    said: Said  # "answers", "answers, but has no model 'x'", "not answering: connection refused"
    checked_at: float | None = None

    @property
    def detail(self) -> str:
        """In English (/health, logs); an edge that speaks another language says `said` itself."""
        return str(self.said)


class RemoteModels:
    """The backends of the catalogue's remote models, made on first use, and their servers' reachability."""

    def __init__(self, catalog: Catalog, environ: Mapping[str, str] | None = None,
                 clock: Any = time.monotonic):
        self.catalog, self.environ, self.clock = catalog, environ, clock
        self._lock = threading.Lock()
        self._backends: dict[str, RemoteBackend] = {}
        self._checks: dict[str, Reachability] = {}
        self._checking: set[str] = set()

    def backend(self, spec: ModelSpec) -> RemoteBackend:
        with self._lock:
            if spec.key not in self._backends:
                self._backends[spec.key] = RemoteBackend(spec, environ=self.environ)
            return self._backends[spec.key]

    def reachability(self, spec: ModelSpec, wait: bool = False) -> Reachability:
        """The last check's result; a check older than `CHECK_EVERY_S` starts a new one in the background
        (`wait`: check now and wait for it)."""
        with self._lock:
            known = self._checks.get(spec.key, Reachability(None, Said("remote.checking")))
            stale = known.checked_at is None or self.clock() - known.checked_at > CHECK_EVERY_S
            start = stale and spec.key not in self._checking
            if start:
                self._checking.add(spec.key)
        if start and wait:
            self._check(spec)
        elif start:
            threading.Thread(target=self._check, args=(spec,), name=f"check-{spec.key}", daemon=True).start()
        with self._lock:
            return self._checks.get(spec.key, known)

    def _check(self, spec: ModelSpec) -> None:
        try:
            result = check(spec, self.environ)
        finally:
            with self._lock:
                self._checking.discard(spec.key)
        with self._lock:
            self._checks[spec.key] = Reachability(result.answers, result.said, self.clock())

    def close(self) -> None:
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            backend.close()


def check(spec: ModelSpec, environ: Mapping[str, str] | None = None) -> Reachability:
    """Ask `spec`'s server for its models (GET /models), within `CHECK_TIMEOUT_S`."""
    remote = spec.remote
    assert remote is not None
    with make_client(spec, environ, timeout_s=CHECK_TIMEOUT_S) as client:
        try:
            names = [m.id for m in client.models.list()]
        except openai.APIStatusError as exc:
            key = "remote.refuses_key" if exc.status_code in (401, 403) else "remote.listing_failed"
            return Reachability(True, Said(key, {"status": exc.status_code}))
        except (openai.OpenAIError, http.HTTPError) as exc:
            reason = (Said("remote.no_answer_within", {"seconds": CHECK_TIMEOUT_S})
                      if isinstance(exc, openai.APITimeoutError) else _cause(exc))
            return Reachability(False, Said("remote.not_answering", {"reason": reason}))
    if names and remote.model not in names:  # (`transformers serve` lists only its Hub cache: maybe nothing)
        listed = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        return Reachability(True, Said("remote.lacks_model", {"name": remote.model,
                                                              "listed": listed or Said("remote.none")}))
    return Reachability(True, Said("remote.answers"))
