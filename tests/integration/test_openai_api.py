"""The running app's OpenAI-compatible /v1 API, through the official `openai` client.

Against the shared tiny-checkpoint app (`app_url`): the model list, a greedy stream whose text equals
`/chat`'s for the same request, streamed and whole replies alike, and the errors a client meets. Against
the real app over scripted models (`scripted_openai_app.py`, started with PLAYGROUND_API_KEY): the key,
thinking in `reasoning_content`, `enable_thinking`, a failing load mid-stream, the rate and per-address
limits, and a client walking away, which stops its request (the request log says so). Each scripted test
speaks as its own network address (X-Forwarded-For), so one test's limits never touch another's.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from gradio_client import Client

from devtools.launch import AppProcess
from tests.fakes import TINY_MODELS
from tests.integration.scripted_openai_app import (
    ANSWER,
    BROKEN_MODEL,
    SLOW_MODEL,
    STORY_WORDS,
    THOUGHT,
    UNTHOUGHT,
)
from tests.media import write_image

ENTRY = Path(__file__).resolve().parent / "scripted_openai_app.py"
KEY = "workshop-key-42"
MODEL = "scripted-qwen3"


def chat_parts(messages: list[dict]) -> tuple[str, str]:
    """(thinking, answer) of a `/chat` reply: the thinking block, and the messages without metadata."""
    thinking = "".join(m["content"] for m in messages if (m.get("metadata") or {}).get("title") == "Thinking")
    return thinking, "".join(m["content"] for m in messages if not m.get("metadata"))


def streamed(stream: Iterator) -> tuple[str, str, list]:
    """(reasoning, content, chunks) of a streamed completion."""
    chunks = list(stream)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    return reasoning, "".join(d.content or "" for d in deltas), chunks


# --- the tiny-checkpoint app -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(app_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app_url}v1", api_key="x", max_retries=0)


def test_the_model_list_is_the_catalogue(api: openai.OpenAI) -> None:
    models = api.models.list().data
    assert {m.id for m in models} == set(TINY_MODELS)
    assert {m.owned_by for m in models} == {"qwen-playground"}
    assert api.models.retrieve("tiny-qwen3").id == "tiny-qwen3"


@pytest.mark.parametrize("thinking", [False, True], ids=["thinking_off", "thinking_on"])
def test_a_greedy_stream_says_what_chat_says(api: openai.OpenAI, app_url: str, thinking: bool) -> None:
    sampling = dict(temperature=0, top_p=0.8, top_k=20, min_p=0.0, repetition_penalty=1.0, seed=7)
    message, system = "Name three rivers.", "You answer briefly."
    chat = Client(app_url, verbose=False).predict(message=message, model="tiny-qwen3", system_prompt=system,
                                                  thinking=thinking, max_new_tokens=24, api_name="/chat", **sampling)
    expected_thinking, expected = chat_parts(chat)
    body = dict(model="tiny-qwen3", messages=[{"role": "system", "content": system},
                                              {"role": "user", "content": message}],
                max_tokens=24, temperature=0, top_p=0.8, seed=7,
                extra_body={"top_k": 20, "min_p": 0.0, "repetition_penalty": 1.0,
                            "chat_template_kwargs": {"enable_thinking": thinking}})
    reasoning, content, chunks = streamed(api.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **body))
    assert expected and (content, reasoning) == (expected, expected_thinking)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason in ("stop", "length") and chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 24
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    whole = api.chat.completions.create(**body)
    assert whole.object == "chat.completion" and whole.choices[0].message.content == content
    assert (whole.choices[0].message.model_extra.get("reasoning_content") or "") == reasoning
    assert whole.choices[0].finish_reason == chunks[-2].choices[0].finish_reason
    assert whole.usage.completion_tokens == usage.completion_tokens


def test_an_unknown_model_is_not_found_with_the_valid_ones(api: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        api.chat.completions.create(model="qwen-nope", messages=[{"role": "user", "content": "hi"}])
    error = info.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "Unknown model 'qwen-nope'. Valid models: tiny-qwen2, tiny-qwen2.5-vl" in error["message"]
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("qwen-nope")


def test_a_message_past_the_limit_is_refused_naming_it(api: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        api.chat.completions.create(model="tiny-qwen3", messages=[{"role": "user", "content": "x" * 100_001}],
                                    stream=True)
    assert info.value.body["message"] == ("The message is 100,001 characters long; this app takes at most "
                                          "100,000. Shorten it and send it again.")
    assert info.value.body["param"] == "messages[0].content"


def test_a_prompt_past_the_window_is_refused_before_the_stream_starts(api: openai.OpenAI) -> None:
    """Once the model is loaded, that is: while it loads, the stream has begun (with comments) and the error would
    be its last event."""
    api.chat.completions.create(model="tiny-qwen3", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
    with pytest.raises(openai.BadRequestError) as info:
        api.chat.completions.create(model="tiny-qwen3", messages=[{"role": "user", "content": "lorem ipsum " * 3000}],
                                    max_tokens=16, stream=True)
    assert info.value.body["code"] == "context_length_exceeded"
    assert "context window leaves room for 4,080 tokens of prompt" in info.value.body["message"]


@pytest.mark.parametrize(("body", "words"), [
    pytest.param({"stop": ["\n"]}, "stop=", id="stop"),
    pytest.param({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tool calling", id="tools"),
    pytest.param({"n": 2}, "one request per reply", id="n"),
    pytest.param({"response_format": {"type": "json_object"}}, "structured output", id="response_format"),
])
def test_what_would_change_the_reply_unseen_is_refused(api: openai.OpenAI, body: dict, words: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        api.chat.completions.create(model="tiny-qwen3", messages=[{"role": "user", "content": "hi"}], **body)
    assert words in info.value.body["message"] and info.value.body["param"] == next(iter(body))


def test_a_vision_model_reads_an_image_sent_as_a_data_url(api: openai.OpenAI, tmp_path: Path) -> None:
    png = base64.b64encode(write_image(tmp_path / "white.png", (64, 64)).read_bytes()).decode()
    content = [{"type": "text", "text": "What is this?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]
    reply = api.chat.completions.create(model="tiny-qwen2.5-vl", messages=[{"role": "user", "content": content}],
                                        max_tokens=4, temperature=0)
    assert reply.usage.completion_tokens == 4 and reply.usage.prompt_tokens > 4  # the image's tokens and the text
    content[1] = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.BadRequestError, match="data: URLs only"):
        api.chat.completions.create(model="tiny-qwen2.5-vl", messages=[{"role": "user", "content": content}])


# --- the scripted app, with a key -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("openai-scripted")
    log = folder / "requests.jsonl"
    flags = ["--request-log", str(log), "--log-prompts", "--rate-limit", "3/minute", "--per-address", "2"]
    with AppProcess(None, folder / "app.log", *flags, entry=ENTRY, env={"PLAYGROUND_API_KEY": KEY}) as process:
        yield process.url, log


def client(url: str, key: str = KEY) -> openai.OpenAI:
    """A client of its own network address."""
    where = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0,
                         default_headers={"X-Forwarded-For": where})


def ask(api: openai.OpenAI, text: str = "What is 3 + 4?", model: str = MODEL, **kwargs):
    return api.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kwargs)


def test_the_key_is_required_when_the_app_has_one(scripted) -> None:
    url, _ = scripted
    no_key = {"Authorization": openai.omit}  # the header left out altogether
    for api, headers, said in ((client(url), no_key, "No API key was sent"),
                               (client(url, "not-the-key"), None, "The API key is not this server's")):
        with pytest.raises(openai.AuthenticationError) as info:
            api.models.list(extra_headers=headers)
        assert info.value.body["code"] == "invalid_api_key" and info.value.body["message"].startswith(said)
        assert "PLAYGROUND_API_KEY" in info.value.body["message"]
    with pytest.raises(openai.AuthenticationError):
        ask(client(url, "not-the-key"))
    listed = {m.id for m in client(url).models.list().data}
    assert MODEL in listed and BROKEN_MODEL not in listed  # a broken entry is left out
    assert ask(client(url), max_tokens=64).choices[0].message.content == ANSWER


def test_thinking_comes_as_reasoning_content_and_the_answer_as_content(scripted) -> None:
    url, _ = scripted
    api = client(url)
    reasoning, content, _ = streamed(ask(api, stream=True))
    assert (reasoning.strip(), content) == (THOUGHT, ANSWER)
    whole = ask(api).choices[0].message
    assert (whole.model_extra["reasoning_content"].strip(), whole.content) == (THOUGHT, ANSWER)


def test_enable_thinking_false_reaches_the_model(scripted) -> None:
    url, _ = scripted
    reasoning, content, _ = streamed(ask(client(url), stream=True,
                                         extra_body={"chat_template_kwargs": {"enable_thinking": False}}))
    assert (reasoning, content) == ("", UNTHOUGHT)


def test_a_load_that_fails_mid_stream_ends_it_with_an_error_event(scripted) -> None:
    url, _ = scripted
    stream = ask(client(url), model=BROKEN_MODEL, stream=True)
    with pytest.raises(openai.APIError, match="scripted-broken cannot be loaded: its folder"):
        list(stream)
    with pytest.raises(openai.InternalServerError) as info:  # not streamed: a status of its own
        ask(client(url), model=BROKEN_MODEL)
    assert info.value.status_code == 503 and info.value.body["code"] == "model_load_failed"


def test_past_the_rate_a_client_is_told_when_to_come_back(scripted) -> None:
    url, _ = scripted
    api = client(url)
    for _ in range(3):
        ask(api, max_tokens=1)
    with pytest.raises(openai.RateLimitError) as info:
        ask(api, max_tokens=1)
    assert "3 requests in the last minute" in info.value.body["message"]
    assert 0 < int(info.value.response.headers["retry-after"]) <= 60


def test_one_address_may_have_only_so_many_requests_at_once(scripted) -> None:
    url, _ = scripted
    api = client(url)
    streams = [ask(api, "Tell me a long story.", model=SLOW_MODEL, stream=True) for _ in range(2)]
    try:
        for stream in streams:  # both are running
            next(chunk for chunk in stream if chunk.choices and chunk.choices[0].delta.content)
        with pytest.raises(openai.RateLimitError, match="already has 2 requests running or waiting"):
            ask(api, max_tokens=1)
    finally:
        for stream in streams:
            stream.close()


def test_a_client_that_goes_away_stops_its_request(scripted) -> None:
    url, log = scripted
    story = f"Tell me a long story, please ({uuid.uuid4().hex})."
    stream = ask(client(url), story, model=SLOW_MODEL, stream=True)
    next(chunk for chunk in stream if chunk.choices and chunk.choices[0].delta.content)
    stream.close()
    line = ended_request(log, story)
    assert line["outcome"] in ("stopped", "disconnected")
    assert line["tokens_out"] < STORY_WORDS / 2  # a model that went on would have written them all


def ended_request(log: Path, prompt: str, wait_s: float = 60) -> dict:
    """The request log's line for `prompt`, once it is there (the request ends a moment after the client leaves;
    this waits for that, it does not time it)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        mine = [x for x in lines if x.get("prompt") == prompt]
        if mine:
            return mine[-1]
        time.sleep(0.1)
    raise AssertionError(f"the request {prompt!r} did not end within {wait_s:.0f} s:\n{log.read_text()}")
