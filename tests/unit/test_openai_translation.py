"""The /v1 API's pure parts: an OpenAI body -> our `Request`, what is refused and why, errors in OpenAI's shape,
the admission of API clients, and replies as OpenAI's chunks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from playground.admission import Admission, Policy, Rate
from playground.catalog import Sampling, parse_catalog
from playground.errors import (
    DoesNotFitError,
    InvalidRequestError,
    ModelLoadError,
    OutOfMemory,
    PromptTooLongError,
    UnknownModelError,
)
from playground.openai_api import ApiError, Asked, Chunks, Clients, Uploads, api_error, chat_request, completion
from playground.requests import Answer, Finish, InputLimits, Loading, Metrics, Request, Thinking
from tests.media import write_image

THINKING_PRESET = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_new_tokens": 2048}
CATALOG = parse_catalog({"models": {
    "hybrid": {"source": "./m", "tasks": ["chat", "thinking"], "context_length": 4096,
               "sampling": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "thinking": THINKING_PRESET}},
    "plain": {"source": "./m", "tasks": ["chat"], "context_length": 4096},
    "vl": {"source": "./m", "family": "qwen2.5-vl", "tasks": ["chat", "vision"], "context_length": 4096,
           "params_billion": 3.0},
}})
HI = [{"role": "user", "content": "hi"}]


def translate(tmp_uploads: Uploads | None = None, **body) -> Asked:
    return chat_request({"model": "hybrid", "messages": HI, **body}, CATALOG, InputLimits(),
                        tmp_uploads or Uploads())


def refusal(uploads: Uploads | None = None, **body) -> ApiError:
    with pytest.raises(ApiError) as info:
        translate(uploads, **body)
    assert info.value.status == 400
    return info.value


def data_url(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


# --- translation -------------------------------------------------------------------------------------


def test_left_out_sampling_is_the_models_preset_for_the_thinking_mode() -> None:
    on = translate()
    assert on.request.thinking is True and on.request.sampling == Sampling(0.6, 0.95, 20, max_new_tokens=2048)
    off = translate(chat_template_kwargs={"enable_thinking": False})
    assert off.request.thinking is False and off.request.sampling == Sampling(0.7, 0.8, 20)
    assert (on.stream, on.include_usage) == (False, False)


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param({"temperature": 0, "seed": 7}, {"temperature": 0, "seed": 7}, id="greedy_seeded"),
    pytest.param({"max_tokens": 64}, {"max_new_tokens": 64}, id="max_tokens"),
    pytest.param({"max_completion_tokens": 64}, {"max_new_tokens": 64}, id="max_completion_tokens"),
    pytest.param({"max_tokens": 64, "max_completion_tokens": 64}, {"max_new_tokens": 64}, id="both_agree"),
    pytest.param({"top_k": -1}, {"top_k": 0}, id="top_k_off_as_vllm"),
    pytest.param({"top_p": 0.5, "min_p": 0.1, "repetition_penalty": 1.1},
                 {"top_p": 0.5, "min_p": 0.1, "repetition_penalty": 1.1}, id="the_rest"),
    pytest.param({"seed": -1}, {"seed": None}, id="negative_seed_is_random"),
    pytest.param({"temperature": None, "user": "ada", "metadata": {"lesson": "2"}, "store": False}, {},
                 id="null_and_bookkeeping_ignored"),
    pytest.param({"n": 1, "stop": [], "logprobs": False, "presence_penalty": 0, "response_format": {"type": "text"},
                  "tools": [], "tool_choice": "none"}, {}, id="neutral_values_accepted"),
])
def test_sampling_numbers_are_taken_over(body: dict, expected: dict) -> None:
    sampling = translate(**body).request.sampling
    assert {name: getattr(sampling, name) for name in expected} == expected


def test_messages_become_the_request_shape() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "ada"},
                {"role": "assistant", "content": "Hello!", "reasoning_content": "greet back"},
                {"role": "user", "content": [{"type": "text", "text": "And "}, {"type": "text", "text": "you?"}]}]
    asked = translate(messages=messages, stream=True, stream_options={"include_usage": True})
    assert asked.request.messages == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "And "}, {"type": "text", "text": "you?"}]}]
    assert (asked.stream, asked.include_usage) == (True, True)


def test_an_image_data_url_is_written_checked_and_removed_with_the_request(tmp_path: Path) -> None:
    uploads = Uploads()
    url = data_url(write_image(tmp_path / "w.png", (80, 60)))
    content = [{"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]
    asked = chat_request({"model": "vl", "messages": [{"role": "user", "content": content}]}, CATALOG,
                         InputLimits(), uploads)
    part = asked.request.messages[0]["content"][1]
    assert part["type"] == "image" and part["max_pixels"] == 1_000_000
    path = Path(part["image"])
    assert path.read_bytes() == (tmp_path / "w.png").read_bytes()
    uploads.cleanup()
    assert not path.exists()


@pytest.mark.parametrize(("body", "param", "words"), [
    pytest.param({"stop": ["\n"]}, "stop", "stop=[\"\\n\"] is not supported here", id="stop"),
    pytest.param({"tools": [{"type": "function"}]}, "tools", "tool calling", id="tools"),
    pytest.param({"tool_choice": "required"}, "tool_choice", "tool calling", id="tool_choice"),
    pytest.param({"logprobs": True}, "logprobs", "log probabilities", id="logprobs"),
    pytest.param({"response_format": {"type": "json_object"}}, "response_format", "structured output",
                 id="response_format"),
    pytest.param({"n": 2}, "n", "one request per reply", id="n"),
    pytest.param({"frequency_penalty": 0.5}, "frequency_penalty", "use repetition_penalty", id="frequency_penalty"),
    pytest.param({"reasoning_effort": "low"}, "reasoning_effort", "enable_thinking", id="reasoning_effort"),
    pytest.param({"best_of": 3}, "best_of", "Unknown field 'best_of'", id="unknown_field"),
    pytest.param({"temperature": "hot"}, "temperature", "temperature must be a number", id="not_a_number"),
    pytest.param({"temperature": 3}, "temperature", "temperature must be at least 0 and at most 2",
                 id="out_of_range"),
    pytest.param({"top_k": 2.5}, "top_k", "top_k must be a whole number", id="not_whole"),
    pytest.param({"max_tokens": 0}, "max_tokens", "max_tokens must be at least 1", id="no_tokens"),
    pytest.param({"max_completion_tokens": 2_000_000}, "max_completion_tokens", "max_completion_tokens must be",
                 id="too_many_tokens"),
    pytest.param({"max_tokens": 5, "max_completion_tokens": 6}, "max_tokens", "differ", id="two_limits"),
    pytest.param({"chat_template_kwargs": {"add_generation_prompt": False}}, "chat_template_kwargs",
                 "only enable_thinking", id="other_template_kwargs"),
    pytest.param({"chat_template_kwargs": {"enable_thinking": "no"}}, "chat_template_kwargs.enable_thinking",
                 "true or false", id="thinking_not_bool"),
    pytest.param({"stream": "yes"}, "stream", "stream must be true or false", id="stream_not_bool"),
    pytest.param({"model": ""}, "model", "model is required", id="no_model"),
    pytest.param({"messages": []}, "messages", "non-empty list", id="no_messages"),
    pytest.param({"messages": [{"role": "system", "content": "x"}]}, "messages", "no user message",
                 id="no_user_message"),
    pytest.param({"messages": [{"role": "developer", "content": "x"}]}, "messages[0].role", "role 'developer'",
                 id="developer_role"),
    pytest.param({"messages": [{"role": "tool", "content": "4", "tool_call_id": "a"}]}, "messages[0].role",
                 "no tools", id="tool_role"),
    pytest.param({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "a"}]}, *HI]},
                 "messages[0].tool_calls", "no tools", id="tool_calls"),
    pytest.param({"messages": [{"role": "user", "content": None}]}, "messages[0].content", "no content",
                 id="null_content"),
    pytest.param({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content[0]",
                 "'input_audio' part", id="audio_part"),
    pytest.param({"messages": [{"role": "user", "content": "x" * 100_001}]}, "messages[0].content",
                 "The message is 100,001 characters long; this app takes at most 100,000", id="message_too_long"),
    pytest.param({"messages": [{"role": "system", "content": "x" * 20_001}, *HI]}, "messages[0].content",
                 "The system prompt is 20,001 characters long", id="system_too_long"),
    pytest.param({"messages": [{"role": "user", "content": "bad \ud800"}]}, "messages", "lone surrogate",
                 id="not_text"),
])
def test_what_cannot_be_done_as_asked_is_refused_naming_the_field(body: dict, param: str, words: str) -> None:
    error = refusal(**body)
    assert words in error.message and error.param == param
    assert error.body() == {"error": {"message": error.message, "type": "invalid_request_error", "param": param,
                                      "code": None}}


def image_message(url: str, role: str = "user") -> list[dict]:
    return [{"role": role, "content": [{"type": "image_url", "image_url": {"url": url}}]}]


@pytest.mark.parametrize(("model", "messages", "words"), [
    pytest.param("vl", image_message("https://example.com/cat.png"), "data: URLs only, not https URLs",
                 id="remote_url"),
    pytest.param("vl", image_message("data:image/png,abc"), "must be base64", id="not_base64_url"),
    pytest.param("vl", image_message("data:image/png;base64,***"), "not valid base64", id="bad_base64"),
    pytest.param("vl", image_message("data:image/svg+xml;base64,PHN2Zy8+"), "image/svg+xml is not an image type",
                 id="svg"),
    pytest.param("vl", image_message("data:image/png;base64," + base64.b64encode(b"not a png").decode()),
                 "image-1.png could not be read as an image", id="damaged"),
    pytest.param("plain", image_message("data:image/png;base64,AAAA"), "plain reads text only", id="text_model"),
    pytest.param("vl", image_message("data:image/png;base64,AAAA", "assistant"), "Images go in user messages",
                 id="assistant_image"),
    pytest.param("vl", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;"
                                                                                          "base64,AAAA"}}] * 11}],
                 "The message has 11 files; this app takes at most 10", id="too_many_images"),
])
def test_images_come_as_data_urls_of_images(model: str, messages: list, words: str) -> None:
    uploads = Uploads()
    try:
        with pytest.raises(ApiError) as info:
            chat_request({"model": model, "messages": messages}, CATALOG, InputLimits(), uploads)
    finally:
        uploads.cleanup()
    assert info.value.status == 400 and words in info.value.message
    assert info.value.param.startswith("messages[0].content")


def test_an_unknown_model_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownModelError) as info:
        translate(model="nope")
    error = api_error(info.value, "ref")
    assert (error.status, error.code, error.param) == (404, "model_not_found", "model")
    assert error.message == "Unknown model 'nope'. Valid models: hybrid, plain, vl."


@pytest.mark.parametrize(("exc", "status", "kind", "code"), [
    pytest.param(InvalidRequestError("Bad."), 400, "invalid_request_error", None, id="invalid"),
    pytest.param(PromptTooLongError("Long."), 400, "invalid_request_error", "context_length_exceeded",
                 id="prompt_too_long"),
    pytest.param(DoesNotFitError("Big."), 503, "server_error", "model_does_not_fit", id="does_not_fit"),
    pytest.param(ModelLoadError("Gone."), 503, "server_error", "model_load_failed", id="load_failed"),
    pytest.param(OutOfMemory("Full."), 503, "server_error", "out_of_memory", id="out_of_memory"),
])
def test_playground_errors_keep_their_sentence_with_a_fitting_status(exc, status, kind, code) -> None:
    error = api_error(exc, "ref")
    assert (error.status, error.kind, error.code, error.message) == (status, kind, code, str(exc))


def test_a_bug_gets_a_reference_and_not_its_details() -> None:
    error = api_error(KeyError("internal detail"), "ab12cd34")
    assert (error.status, error.code) == (500, "internal_error")
    assert "reference ab12cd34" in error.message and "internal detail" not in error.message


# --- admission -------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_past_the_rate_an_address_gets_429_with_the_wait() -> None:
    clock = Clock()
    clients = Clients(Admission(Policy(4, 16, Rate(2, "minute"), 64), clock), capacity=80)
    for _ in range(2):
        clients.enter("1.2.3.4")
        clients.leave("1.2.3.4")
    clock.now += 20
    with pytest.raises(ApiError) as info:
        clients.enter("1.2.3.4")
    assert (info.value.status, info.value.code) == (429, "rate_limit_exceeded")
    assert info.value.headers == {"Retry-After": "40"} and "try again in 40 s" in info.value.message
    clients.enter("5.6.7.8")  # another address has its own count
    assert clients.outstanding("1.2.3.4") == 0 and clients.outstanding("5.6.7.8") == 1


def test_an_address_may_have_per_address_requests_at_once_and_all_together_the_capacity() -> None:
    clients = Clients(Admission(Policy(1, 2, None, 3)), capacity=3)
    clients.enter("a")
    clients.enter("a")  # per_session does not apply: an API client is its address
    with pytest.raises(ApiError) as info:
        clients.enter("a")
    assert info.value.status == 429 and "already has 2 requests" in info.value.message
    assert "Retry-After" not in info.value.headers
    clients.enter("b")
    with pytest.raises(ApiError) as info:
        clients.enter("c")
    assert (info.value.status, info.value.code) == (503, "server_busy") and "busy" in info.value.message
    clients.leave("a")
    clients.enter("c")


# --- replies ---------------------------------------------------------------------------------------------


def metrics(finish: Finish = Finish.STOP) -> Metrics:
    return Metrics(model="hybrid", precision=None, backend="serial", thinking=True, window=4096, prompt_tokens=12,
                   tokens=9, thinking_tokens=4, thinking_cut=False, queued_s=0.0, time_to_first_token_s=0.1,
                   seconds=1.0, peak_memory=None, finish=finish)


def payloads(lines: list[str]) -> list:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


@pytest.mark.parametrize("include_usage", [False, True], ids=["no_usage", "usage"])
def test_a_stream_is_role_thinking_answer_finish_and_usage(include_usage: bool) -> None:
    request = Request("hybrid", HI, id="abc")
    chunks = Chunks(Asked(request, stream=True, include_usage=include_usage), created=5)
    lines = [chunks.chunk({"role": "assistant", "content": ""})]
    for event in (Loading("hybrid", None, None, "weights", 0.5, 3.2), Thinking("Hm."), Answer("Hi"), Answer(""),
                  metrics(Finish.LENGTH)):
        lines += chunks.events(event)
    assert lines[1] == ": loading hybrid (weights, 50%, 3 s)\n\n"
    bodies = payloads(lines)
    assert {b["id"] for b in bodies} == {"chatcmpl-abc"} and {b["object"] for b in bodies} == {"chat.completion.chunk"}
    deltas = [b["choices"][0]["delta"] if b["choices"] else None for b in bodies]
    assert deltas[:4] == [{"role": "assistant", "content": ""}, {"reasoning_content": "Hm."}, {"content": "Hi"}, {}]
    assert bodies[3]["choices"][0]["finish_reason"] == "length"
    if include_usage:
        assert deltas[4:] == [None] and bodies[4]["usage"] == {
            "prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
            "completion_tokens_details": {"reasoning_tokens": 4}}
        assert all(b["usage"] is None for b in bodies[:4])
    else:
        assert len(bodies) == 4 and all("usage" not in b for b in bodies)


def test_a_whole_completion_carries_content_reasoning_and_usage() -> None:
    body = completion(Request("hybrid", HI, id="abc"), 5, "", "Hello.", metrics())
    assert body["object"] == "chat.completion" and body["id"] == "chatcmpl-abc" and body["model"] == "hybrid"
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello.",
                                                       "reasoning_content": None},
                                "logprobs": None, "finish_reason": "stop"}]
    assert body["usage"]["total_tokens"] == 21
