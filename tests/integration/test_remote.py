"""Remote models: catalogue entries served by an OpenAI-compatible server, through the real engine and tabs.

The server here is `devtools.fake_openai`, a scripted vLLM look-alike on loopback: it streams a given
reply (thinking in `reasoning_content` or inline tags), records what it was sent, and acts out each
failure by the model name it is asked for.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from devtools.fake_openai import FakeOpenAI
from devtools.launch import free_port
from playground.backends.remote import RemoteModels
from playground.catalog import Sampling, parse_catalog
from playground.engine import Engine
from playground.errors import InvalidRequestError, PlaygroundError
from playground.registry import Registry
from playground.requests import Answer, Cancel, Finish, Metrics, Request, Thinking, Written
from playground.server import health
from playground.snippets import snippet
from tabs import models as models_tab
from tabs.chat import chat
from tabs.code import code_api
from tabs.math_tab import math_api
from tabs.reply import Stops
from tabs.thinking import compare_thinking
from tabs.vision import vision_api
from tests.fakes import FakeLoader
from tests.media import write_image

LONG_REPLY = "<think>\nCounting.\n</think>\n\n" + " ".join(f"w{i}" for i in range(400))


def remote_entry(base_url: str, model: str = "scripted", **extra: Any) -> dict[str, Any]:
    return {"backend": "openai", "base_url": base_url, "model": model, "family": "qwen3", "context_length": 32768,
            "tasks": ["chat", "thinking", "math", "code"], **extra}


def engine_for(entries: dict[str, dict[str, Any]], environ: dict[str, str] | None = None) -> Engine:
    catalog = parse_catalog({"models": entries})
    return Engine(Registry(catalog, FakeLoader(1 << 30), remotes=RemoteModels(catalog, environ=environ or {})))


def run(engine: Engine, model: str, text: str = "Hi", cancel: Cancel | None = None, **request: Any) -> list[Any]:
    return list(engine.stream(Request(model=model, messages=[{"role": "user", "content": text}], **request), cancel))


def texts(events: list[Any]) -> tuple[str, str]:
    thinking = "".join(e.text for e in events if isinstance(e, Thinking))
    return thinking, "".join(e.text for e in events if isinstance(e, Answer))


def wait_until(condition, seconds: float = 10.0) -> bool:
    """Polls `condition` (what the server saw happens on its own thread); not a timing assertion."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(slow_s=5.0) as fake:
        yield fake


@pytest.fixture()
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.requests.clear()
    server.closed_early.clear()
    server.reply, server.reasoning_field, server.seconds_per_chunk, server.api_key, server.extra_fields = (
        FakeOpenAI.reply, True, 0.0, None, True)
    return server


def test_thinking_comes_from_the_reasoning_field_and_metrics_from_usage(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    events = run(engine, "big")
    assert texts(events) == ("Let me think.", "Hello from the server!")
    metrics = events[-1]
    assert isinstance(metrics, Metrics)
    assert (metrics.backend, metrics.precision, metrics.finish) == ("remote", None, Finish.STOP)
    assert metrics.tokens == 7 and metrics.prompt_tokens == 12  # the server's usage chunk: one per word sent
    assert metrics.window == 32768 and metrics.time_to_first_token_s is not None


def test_thinking_in_think_tags_of_the_content_is_split_too(fake: FakeOpenAI) -> None:
    fake.reasoning_field = False  # a server started without a reasoning parser
    events = run(engine_for({"big": remote_entry(fake.base_url)}), "big")
    assert texts(events) == ("Let me think.", "Hello from the server!")


def test_sampling_goes_as_standard_fields_and_vllm_extras(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    sampling = Sampling(temperature=0.6, top_p=0.95, top_k=20, min_p=0.05, repetition_penalty=1.1,
                        max_new_tokens=300, seed=42)
    run(engine, "big", sampling=sampling, thinking=False)
    sent = fake.requests[-1]
    assert sent["model"] == "scripted" and sent["stream"] is True
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (0.6, 0.95, 300, 42)
    assert (sent["top_k"], sent["min_p"], sent["repetition_penalty"]) == (20, 0.05, 1.1)
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert sent["messages"] == [{"role": "user", "content": "Hi"}]

    run(engine, "big", sampling=Sampling(temperature=0, top_k=0, min_p=0, repetition_penalty=1.0))
    neutral = fake.requests[-1]
    assert neutral["temperature"] == 0 and "seed" not in neutral  # greedy; a fresh seed is the server's
    assert not {"top_k", "min_p", "repetition_penalty", "chat_template_kwargs"} & set(neutral)


def test_thinking_off_reaches_the_server_and_the_reply_has_no_thinking(fake: FakeOpenAI) -> None:
    events = run(engine_for({"big": remote_entry(fake.base_url)}), "big", thinking=False)
    assert texts(events) == ("", "Hello from the server!")
    assert events[-1].thinking is False


@pytest.mark.parametrize("how", ["stop", "close"])
def test_stop_closes_the_stream_so_the_server_stops(fake: FakeOpenAI, how: str) -> None:
    fake.reply, fake.seconds_per_chunk = LONG_REPLY, 0.02
    engine = engine_for({"big": remote_entry(fake.base_url)})
    cancel = Cancel()
    events = engine.stream(Request(model="big", messages=[{"role": "user", "content": "Count"}]), cancel)
    answers = 0
    for event in events:
        answers += isinstance(event, Answer)
        if answers == 3:
            break
    if how == "stop":
        cancel.set()
        rest = list(events)
        assert isinstance(rest[-1], Metrics) and rest[-1].finish is Finish.CANCELLED
        assert sum(isinstance(e, Answer) for e in rest) <= 1  # at most the chunk already on its way
    else:
        events.close()  # the browser went away
        assert cancel.wait(5).finish is Finish.CANCELLED
    assert wait_until(lambda: fake.closed_early == ["scripted"])


@pytest.mark.parametrize(("model", "said"), [
    ("unauthorized", "refused the API key (HTTP 401: Scripted failure 401): add `api_key_env`"),
    ("forbidden", "refused the API key (HTTP 403"),
    ("nope", "has no model named 'nope' (HTTP 404: The model `nope` does not exist)"),
    ("limited", "is rate limiting requests (HTTP 429: Scripted failure 429): try again in 7 s."),
    ("broken", "failed (HTTP 500: Scripted failure 500). Try again"),
    ("overloaded", "failed (HTTP 503: Scripted failure 503)"),
])
def test_each_http_failure_has_its_message_naming_the_server(fake: FakeOpenAI, model: str, said: str) -> None:
    with pytest.raises(PlaygroundError) as error:
        run(engine_for({"big": remote_entry(fake.base_url, model)}), "big")
    assert str(error.value).startswith(f"The model server at {fake.base_url} ")
    assert said in str(error.value)


def test_a_server_that_is_not_running_is_named_with_connection_refused() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(PlaygroundError) as error:
        run(engine_for({"big": remote_entry(base_url)}), "big")
    assert str(error.value) == (f"Could not reach the model server at {base_url} (connection refused). Check that "
                                "the server is running and that `base_url` in the catalogue entry for big is right.")


def test_a_server_that_does_not_answer_in_time_says_so(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url, "slow", timeout_s=0.5)})
    with pytest.raises(PlaygroundError, match=r"did not answer within 0.5 s\. It may be overloaded"):
        run(engine, "big")


def test_a_stream_cut_mid_reply_keeps_the_partial_reply_and_marks_it(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url, "cut")})
    stops = Stops()
    final = list(chat(engine, stops, "Hi", [], "big"))[-1][0]
    contents = [m["content"] for m in final]
    assert any("Let me" in c for c in contents)  # what arrived before the cut is still shown
    error = final[-1]
    assert error["metadata"]["id"] == "error"
    assert f"The connection to the model server at {fake.base_url} was cut mid-reply." in error["content"]
    assert "The reply above is incomplete." in error["content"]


def test_a_key_from_the_named_environment_variable_and_the_message_without_it(fake: FakeOpenAI) -> None:
    fake.api_key = "sekret"
    entries = {"big": remote_entry(fake.base_url, api_key_env="FAKE_SERVER_KEY")}
    with pytest.raises(PlaygroundError, match="the environment variable FAKE_SERVER_KEY is not set: set it"):
        run(engine_for(entries, environ={}), "big")
    with pytest.raises(PlaygroundError, match="refused the API key .*check the key in the environment variable"):
        run(engine_for(entries, environ={"FAKE_SERVER_KEY": "wrong"}), "big")
    assert texts(run(engine_for(entries, environ={"FAKE_SERVER_KEY": "sekret"}), "big"))[1] == "Hello from the server!"


def test_a_thinking_budget_is_refused_with_what_to_do(fake: FakeOpenAI) -> None:
    with pytest.raises(InvalidRequestError, match="cannot cut the thinking at a budget: set the thinking budget"):
        run(engine_for({"big": remote_entry(fake.base_url)}), "big", thinking_budget=10,
            sampling=Sampling(max_new_tokens=100))


def test_the_chat_tab_streams_a_remote_reply_with_its_thinking_and_metrics(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    final = list(chat(engine, Stops(), "Hi", [], "big"))[-1][0]
    thinking = next(m for m in final if (m.get("metadata") or {}).get("title") == "Thinking")
    assert thinking["content"] == "Let me think."
    assert any(m["content"] == "Hello from the server!" for m in final)
    metrics = final[-1]["content"]
    assert "big · remote · thinking on" in metrics and "7 tokens" in metrics  # the usage chunk
    assert engine.monitor.figures()["outcomes"]["done"] == 1


def test_the_registry_never_loads_or_evicts_a_remote_model(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    registry = engine.registry
    assert registry.state("big").status == "remote" and registry.estimate(registry.catalog.get("big"), None) is None
    run(engine, "big")
    assert registry.snapshot() == [] and registry.loader.calls == []
    with pytest.raises(PlaygroundError, match="runs on another server: there is nothing to unload here"):
        registry.unload("big")


def test_the_models_tab_shows_remote_models_and_whether_their_server_answers(fake: FakeOpenAI) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    engine = engine_for({"big": remote_entry(fake.base_url), "wrong-name": remote_entry(fake.base_url, "nope"),
                         "down": remote_entry(down)})
    registry = engine.registry
    for spec in registry.catalog:  # check now, as the background check would
        registry.remotes.reachability(spec, wait=True)
    rows = {row[0]: row for row in models_tab.table(registry)}
    assert rows["big"][2:] == ["remote: runs on its server", f"remote at {fake.base_url}: answers"]
    assert rows["wrong-name"][3] == f"remote at {fake.base_url}: answers, but has no model 'nope' (it has: scripted)"
    assert rows["down"][3] == f"remote at {down}: not answering: connection refused"
    api = {row["key"]: row for row in models_tab.models(registry)}
    assert api["big"]["remote"] == {"base_url": fake.base_url, "model": "scripted", "answers": True,
                                    "detail": "answers"}
    assert api["big"]["estimates"] == {} and api["down"]["remote"]["answers"] is False


def test_images_go_to_the_server_as_data_urls_scaled_to_max_pixels(fake: FakeOpenAI, tmp_path) -> None:
    image = write_image(tmp_path / "wide.png", (800, 400))
    engine = engine_for({"eyes": remote_entry(fake.base_url, family="qwen2.5-vl", tasks=["vision"])})
    message = {"role": "user", "content": [{"type": "image", "image": str(image), "max_pixels": 20_000},
                                           {"type": "text", "text": "What is this?"}]}
    list(engine.stream(Request(model="eyes", messages=[message])))
    sent = fake.requests[-1]["messages"][0]["content"]
    assert sent[1] == {"type": "text", "text": "What is this?"}
    url = sent[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert picture.width * picture.height <= 20_000 and picture.width == 2 * picture.height


def test_a_continued_reply_is_sent_as_the_final_assistant_message_to_go_on_from(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    written = Written(answer="Let me add.\n```python\nprint(3 + 4)\n```\n```output\n7\n```\n")
    list(engine.stream(Request(model="big", messages=[{"role": "user", "content": "3 + 4?"}], thinking=False,
                               continuation=written)))
    sent = fake.requests[-1]
    assert sent["messages"][-1] == {"role": "assistant", "content": written.text(opened_by_prompt=False)}
    assert (sent["continue_final_message"], sent["add_generation_prompt"]) == (True, False)


def test_copy_as_code_for_a_remote_model_runs_against_its_server(fake: FakeOpenAI, capsys) -> None:
    catalog = parse_catalog({"models": {"big": remote_entry(fake.base_url)}})
    request = Request("big", [{"role": "user", "content": "Hi"}], Sampling(temperature=0.6, top_k=20, seed=3,
                                                                        max_new_tokens=64), thinking=False)
    code = snippet(catalog.get("big"), request)
    exec(compile(code, "snippet.py", "exec"), {})  # the learner's notebook cell, run as given
    assert capsys.readouterr().out == "\nHello from the server!\n"  # thinking off: no reasoning, then the answer
    sent = fake.requests[-1]
    assert (sent["model"], sent["seed"], sent["top_k"], sent["max_tokens"]) == ("scripted", 3, 20, 64)
    assert sent["chat_template_kwargs"] == {"enable_thinking": False} and "stream" not in sent


def test_every_tab_works_with_a_remote_model(fake: FakeOpenAI, tmp_path) -> None:
    fake.reply = "<think>\nAdd them.\n</think>\n\nSo the answer is $\\boxed{7}$."
    engine = engine_for({"big": remote_entry(fake.base_url),
                         "eyes": remote_entry(fake.base_url, family="qwen2.5-vl", tasks=["vision"])})
    stops = Stops()
    compared = list(compare_thinking(engine, stops, "3 + 4?", left_model="big", right_model="big"))[-1]
    assert compared["left"]["answer"] == compared["right"]["answer"] == "So the answer is $\\boxed{7}$."
    assert compared["left"]["thinking"] == "Add them." and compared["right"]["thinking"] == ""  # right: off
    solved = list(math_api(engine, stops, "3 + 4?", expected_answer="7", model="big", samples=2))[-1]
    assert solved["answer"] == "7" and solved["correct"] is True
    coded = list(code_api(engine, stops, "Add 3 and 4", model="big"))[-1]
    assert coded["done"] and "boxed{7}" in coded["reply"]
    image = write_image(tmp_path / "white.png", (64, 64))
    seen = list(vision_api(engine, stops, None, [str(image)], "What is this?", model="eyes"))[-1]
    assert seen["error"] is None and seen["answer"] == "So the answer is $\\boxed{7}$."


def test_a_server_that_refuses_the_extra_sampling_fields_is_asked_without_them(fake: FakeOpenAI) -> None:
    fake.extra_fields = False  # as `transformers serve`: 422 "Unexpected fields in the request: {'top_k'}"
    engine = engine_for({"big": remote_entry(fake.base_url)})
    final = list(chat(engine, Stops(), "Hi", [], "big", top_k=20, min_p=0.1))[-1][0]
    notice = final[0]["content"]
    assert notice == (f"ℹ️ The model server at {fake.base_url} does not take top_k, min_p: this reply and the next "
                      "are sampled without them.")
    assert any(m["content"] == "Hello from the server!" for m in final)
    list(chat(engine, Stops(), "Again", [], "big", top_k=20))
    assert [sorted({"top_k", "min_p"} & set(sent)) for sent in fake.requests] == [["min_p", "top_k"], [], []]


def test_health_says_whether_each_remote_models_server_answers(fake: FakeOpenAI) -> None:
    engine = engine_for({"big": remote_entry(fake.base_url)})
    registry = engine.registry
    registry.remotes.reachability(registry.catalog.get("big"), wait=True)
    body = health(registry, engine.monitor, lambda: 0)
    assert body["remote"] == [{"model": "big", "base_url": fake.base_url, "answers": True, "detail": "answers"}]
    assert body["models"] == []  # nothing is loaded here
