"""The running app against what a public demo meets: huge bodies and messages, bad numbers, one client
hogging the queue, a full queue, visitors reaching for model management; and /health and the request log.

The app is the real one over scripted models (`tests/e2e/scripted_app.py`), writing slowly where a test
needs requests to overlap. Each test speaks as its own network address (X-Forwarded-For), so the
per-address limits of one test never touch another.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from devtools.launch import AppProcess
from tests.e2e.scripted_app import TOKEN_DELAY

ENTRY = Path(__file__).resolve().parent.parent / "e2e" / "scripted_app.py"
MODEL = "scripted-qwen3"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("guarded")
    log = folder / "requests.jsonl"
    flags = ["--max-concurrent", "1", "--queue-size", "2", "--per-session", "1", "--rate-limit", "4/minute",
             "--admin-token", TOKEN, "--request-log", str(log), "--max-message-chars", "50000"]
    with AppProcess(None, folder / "app.log", *flags, entry=ENTRY, env={TOKEN_DELAY: "0.05"}) as process:
        yield process.url, log


def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def client(url: str, where: str | None = None) -> Client:
    return Client(url, verbose=False, headers={"X-Forwarded-For": where or address()})


def health(url: str) -> dict:
    return httpx.get(url + "health", timeout=30).json()


def join(url: str, api_name: str | None, data: list, where: str, session: str | None = None,
         elem_id: str | None = None) -> httpx.Response:
    """Ask to join the queue as the browser does: the event named by API name (or by its button's elem_id)."""
    config = httpx.get(url + "config", timeout=30).json()
    if elem_id is not None:
        target = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
        dependency = next(d for d in config["dependencies"] if [target, "click"] in d["targets"])
    else:
        dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
    body = {"data": data, "fn_index": dependency["id"], "session_hash": session or uuid.uuid4().hex,
            "event_data": None, "trigger_id": dependency["targets"][0][0]}
    return httpx.post(url + "gradio_api/queue/join", content=json.dumps(body),  # ASCII: a lone surrogate as \ud800
                      headers={"X-Forwarded-For": where, "content-type": "application/json"}, timeout=60)


def completed(url: str, session: str) -> list:
    """The output of the session's event that joined the queue, once it completes."""
    with httpx.stream("GET", url + f"gradio_api/queue/data?session_hash={session}", timeout=60) as events:
        for line in events.iter_lines():
            if line.startswith("data:") and '"process_completed"' in line:
                return json.loads(line[5:])["output"]["data"]
    raise AssertionError("the event never completed")


def chat_data(message: str) -> list:
    # message, the session's history (state), model, system prompt, thinking, temperature, top-p, top-k,
    # min-p, repetition penalty, max new tokens, seed, thinking budget
    return [message, None, MODEL, "", False, 0.7, 0.8, 20, 0.0, 1.0, 64, 1, -1]


def error_of(reply: list[dict]) -> str:
    return next(m["content"] for m in reply if (m.get("metadata") or {}).get("id") == "error")


def test_a_huge_body_or_message_is_refused_at_once_and_memory_stays_flat(app) -> None:
    url, _ = app
    before = health(url)["process_rss_bytes"]
    started = time.perf_counter()
    body = httpx.post(url + "gradio_api/queue/join", content=b"{" + b" " * (100 * 2**20) + b"}",
                      headers={"content-type": "application/json"}, timeout=120)
    assert body.status_code == 413 and body.json()["detail"] == (
        "The request body is 100.0 MiB; this app accepts at most 8.0 MiB (file uploads excepted: up to 200.0 MiB "
        "each). Send less at a time.")
    ten_mb = join(url, "chat", chat_data("x" * (10 * 2**20)), address())
    assert ten_mb.status_code == 413 and ten_mb.json()["detail"].startswith("The request body is 10.0 MiB")
    c = client(url)
    reply = c.predict(message="word " * 20_000, model=MODEL, api_name="/chat")
    assert error_of(reply) == ("⚠️ The message is 100,000 characters long; this app takes at most 50,000. Shorten "
                               "it and send it again.")
    refused_s = time.perf_counter() - started
    after = health(url)["process_rss_bytes"]
    assert after - before < 50 * 2**20, f"RSS grew {(after - before) / 2**20:.0f} MiB"
    reply = c.predict(message="What is 3 + 4?", model=MODEL, api_name="/chat")  # the same session goes on
    assert "boxed" in reply[0]["content"] and refused_s < 60
    reply = c.predict(message="And again?", model=MODEL, api_name="/chat")
    assert "word word" not in json.dumps(reply)  # the refused message never entered the session's history


@pytest.mark.parametrize(("values", "expected"), [
    ({"seed": "abc"}, "Seed must be a number, got 'abc'."),
    ({"temperature": "hot"}, "Temperature must be a number, got 'hot'."),
    ({"top_p": "NaN"}, "Top-p must be a finite number, got 'NaN'."),
    ({"max_new_tokens": "inf"}, "Max new tokens must be a finite number, got 'inf'."),
])
def test_a_value_that_is_not_a_number_is_named(app, values, expected) -> None:
    url, _ = app
    with pytest.raises(Exception, match="must be") as caught:
        client(url).predict(message="Hi", model=MODEL, api_name="/chat", **values)
    assert str(caught.value) == expected


def test_numbers_out_of_range_and_broken_text_get_a_message(app) -> None:
    url, _ = app
    c = client(url)
    assert error_of(c.predict(message="Hi", model=MODEL, seed=2**70, api_name="/chat")) == (
        f"⚠️ seed must be at least 0 and at most {2**63 - 1:,}, got {2**70}.")
    session = uuid.uuid4().hex
    assert join(url, "chat", chat_data("Hi \ud800 there"), address(), session).status_code == 200
    reply, _ = completed(url, session)  # (the session's history, a state, never leaves the server)
    assert error_of(reply) == ("⚠️ The message has a character that is not valid text at position 3 (a lone "
                               "surrogate, '\\ud800'): remove it and send it again.")


def test_one_session_may_not_hog_the_queue(app) -> None:
    url, _ = app
    c = client(url)
    first = c.submit(message="What is 3 + 4? " * 3, model=MODEL, max_new_tokens=400, api_name="/chat")
    time.sleep(0.5)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        c.predict(message="And this too?", model=MODEL, api_name="/chat")
    assert caught.value.response.status_code == 400
    assert caught.value.response.json()["detail"] == (
        "You already have 1 requests running or waiting, the most one session may have here: wait for one to "
        "finish (or stop it), then send again.")
    assert "boxed" in first.result()[0]["content"]  # the first one was not disturbed
    assert "boxed" in c.predict(message="Now?", model=MODEL, api_name="/chat")[0]["content"]


def test_the_rate_limit_says_how_long_to_wait(app) -> None:
    url, _ = app
    where = address()
    for _ in range(4):
        client(url, where).predict(message="Hi", model=MODEL, max_new_tokens=2, api_name="/chat")
    refused = join(url, "chat", chat_data("Hi"), where)
    detail = refused.json()["detail"]
    assert refused.status_code == 400 and detail.startswith(
        "You have sent 4 requests in the last minute, the most this app takes from one address (4 per minute): "
        "try again in ")
    assert 1 <= int(detail.rsplit("in ", 1)[1].split(" s")[0]) <= 60
    assert join(url, "chat", chat_data("Hi"), address()).status_code == 200  # another address is not held up


def test_a_full_queue_is_answered_busy_at_its_bound(app) -> None:
    url, _ = app
    def until(ready) -> None:
        deadline = time.monotonic() + 30
        while not ready(health(url)) and time.monotonic() < deadline:
            time.sleep(0.1)

    def submit(i: int):
        return client(url).submit(message=f"What is {i} + 4?", model=MODEL, max_new_tokens=400, api_name="/chat")

    until(lambda h: h["running"] == 0 and h["queue_depth"] == 0)  # what earlier tests sent has ended
    jobs = [submit(0)]  # it runs (one slot)
    until(lambda h: h["running"] == 1)
    jobs += [submit(1), submit(2)]  # they wait: the queue holds two
    until(lambda h: h["queue_depth"] == 2)
    assert health(url)["queue_depth"] == 2 and health(url)["running"] == 1  # /health answers under load
    full = join(url, "chat", chat_data("One more?"), address())
    assert full.status_code == 503 and full.json()["detail"] == (
        "The app is busy: 2 requests are already waiting, as many as it holds. Try again in a minute.")
    assert all("boxed" in job.result()[0]["content"] for job in jobs)


def test_visitors_cannot_load_models_through_the_queue_api(app) -> None:
    url, _ = app
    session = uuid.uuid4().hex
    response = join(url, None, ["scripted-qwen2", "auto", {}], address(), session, elem_id="models-load")
    assert response.status_code == 200
    status = completed(url, session)[0]
    assert status == ("⚠️ Loading and unloading models is for the operator: sign in with the admin token first.")
    assert "scripted-qwen2" not in [m["model"] for m in health(url)["models"]]


def test_health_and_the_request_log_tell_how_requests_ended(app) -> None:
    url, log = app
    c = client(url)
    job = c.submit(message="What is 1 + 4? " * 3, model=MODEL, max_new_tokens=400, api_name="/chat")
    for update in job:
        if update and update[0].get("content"):
            job.cancel()  # the client goes away mid-reply
            break
    time.sleep(1.0)
    c.predict(message="Hi", model=MODEL, api_name="/chat")
    figures = health(url)
    assert figures["status"] == "ok" and figures["uptime_s"] > 0 and figures["device"]["kind"] == "cpu"
    assert figures["outcomes"]["done"] >= 1 and figures["outcomes"]["disconnected"] >= 1
    assert figures["ttft_p50_s"] is not None and figures["ttft_p95_s"] >= figures["ttft_p50_s"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"done", "disconnected"} <= {line["outcome"] for line in lines}
    assert all(len(line["prompt_hash"]) == 16 and "prompt" not in line for line in lines)
    assert "What is 1 + 4" not in log.read_text()  # prompts only as hashes
    done = next(line for line in lines if line["outcome"] == "done" and line["tokens_out"])
    assert done["model"] == MODEL and done["tokens_in"] > 0 and done["ttft_s"] >= 0 and done["session"]


def test_the_queue_keeps_serving_while_many_clients_wait(app) -> None:
    """Eight clients at once on a queue of two with one slot: each gets its reply or a clean 'busy'."""
    url, _ = app
    results: list[str] = []

    def one(i: int) -> None:
        try:
            reply = client(url).predict(message=f"What is {i} + 4?", model=MODEL, max_new_tokens=64,
                                        api_name="/chat")
            results.append("done" if "boxed" in reply[0]["content"] else f"odd: {reply}")
        except Exception as exc:  # the client library's word for a 503
            results.append("busy" if "Queue is full" in str(exc) else f"error: {exc}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 8 and set(results) <= {"done", "busy"} and "done" in results
