"""Admission to the queue: per-session and per-address caps, and the rate limit per address."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from playground import i18n
from playground.access import Access
from playground.admission import Admission, Policy, Rate, wait_words
from playground.settings import Settings
from tabs import guard
from tabs.i18n import SESSIONS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("text", "expected"), [
    ("100/hour", Rate(100, "hour")), ("5 / minute", Rate(5, "minute")), ("2/seconds", Rate(2, "second")),
    ("off", None), ("0", None), ("", None),
])
def test_rates_read_as_n_per_period(text, expected) -> None:
    assert Rate.parse(text) == expected


@pytest.mark.parametrize("text", ["100", "100/day", "-1/hour", "0/minute", "lots"])
def test_a_bad_rate_says_the_shape(text) -> None:
    with pytest.raises(ValueError, match="expected N/second, N/minute or N/hour"):
        Rate.parse(text)


def test_the_rate_is_off_on_a_laptop_and_100_an_hour_on_a_network() -> None:
    assert Settings().rate is None
    assert Settings(host="0.0.0.0").rate == Rate(100, "hour")
    assert Settings(share=True).rate == Rate(100, "hour")
    assert Settings(rate_limit="3/minute").rate == Rate(3, "minute")
    assert Settings(host="0.0.0.0", rate_limit="off").rate is None
    assert Settings(rate_limit="often").problem().startswith("--rate-limit: expected N/second")


def test_a_session_or_address_at_its_cap_is_refused_with_what_to_do() -> None:
    admission = Admission(Policy(per_session=2, per_address=3, rate=None, queue_size=64))
    assert admission.refusal("10.0.0.1", session_outstanding=1, address_outstanding=2) is None
    assert admission.refusal("10.0.0.1", 2, 2) == (
        "You already have 2 requests running or waiting, the most one session may have here: wait for one to "
        "finish (or stop it), then send again.")
    assert admission.refusal("10.0.0.1", 0, 3).startswith(
        "Your network address already has 3 requests running or waiting")
    assert admission.busy() == ("The app is busy: 64 requests are already waiting, as many as it holds. Try again "
                                "in a minute.")


def test_the_rate_limit_counts_what_joined_and_says_how_long_to_wait() -> None:
    clock = Clock()
    admission = Admission(Policy(per_session=9, per_address=9, rate=Rate(3, "minute"), queue_size=64), clock)
    for _ in range(3):
        assert admission.refusal("a", 0, 0) is None
        admission.sent("a")
        clock.now += 10
    assert admission.refusal("a", 0, 0) == ("You have sent 3 requests in the last minute, the most this app takes "
                                            "from one address (3 per minute): try again in 30 s.")
    assert admission.refusal("b", 0, 0) is None  # another address has its own count
    clock.now += 30.5  # the first request is a minute old
    assert admission.refusal("a", 0, 0) is None
    clock.now += 3600
    assert admission.refusal("c", 0, 0) is None and admission.tracked_addresses == 0  # nothing left to count


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (42, "42 s"), (119.5, "2 minutes"), (3599, "60 minutes")])
def test_waits_read_in_seconds_then_minutes(seconds, text) -> None:
    assert str(wait_words(seconds)) == text


def test_the_rate_limits_wait_is_a_number_of_its_own_for_retry_after() -> None:
    clock = Clock()
    admission = Admission(Policy(per_session=9, per_address=9, rate=Rate(1, "hour"), queue_size=64), clock)
    admission.sent("a")
    clock.now += 600
    refused = admission.check("a", 0, 0)
    assert refused.wait_s == 3000 and refused.text.endswith("try again in 50 minutes.")
    assert Admission(Policy(1, 9, None, 64)).check("a", 1, 0).wait_s is None  # a cap has no wait


# --- in the reader's language ------------------------------------------------------------------------


@pytest.fixture
def swahili(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A stand-in for Swahili: English's words for the admission, each inside «» (so a sentence made from English
    pieces shows), in a locale folder of our own."""
    shutil.copytree(i18n.LOCALES / "en", tmp_path / "en")
    (tmp_path / "sw").mkdir()
    with (i18n.LOCALES / "en" / "admission.toml").open("rb") as file:
        english = tomllib.load(file)
    (tmp_path / "sw" / "admission.toml").write_text(
        "".join(f"{key} = {json.dumps('«' + words + '»', ensure_ascii=False)}\n" for key, words in english.items()),
        encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.messages.cache_clear()
    yield "sw"
    i18n.messages.cache_clear()


def test_a_refusal_and_the_busy_sentence_are_said_in_the_readers_language(swahili: str) -> None:
    clock = Clock()
    admission = Admission(Policy(per_session=1, per_address=9, rate=Rate(1, "minute"), queue_size=5), clock)
    assert admission.refusal("a", 1, 0, swahili) == (
        "«You already have 1 requests running or waiting, the most one session may have here: wait for one to "
        "finish (or stop it), then send again.»")
    admission.sent("a")
    clock.now += 15
    refused = admission.check("a", 0, 0)
    assert refused.said.text(swahili) == ("«You have sent 1 requests in the last «minute», the most this app takes "
                                          "from one address (1 per «minute»): try again in «45 s».»")
    assert refused.text.startswith("You have sent 1 requests in the last minute,")  # the HTTP API's English
    assert admission.busy(swahili) == ("«The app is busy: 5 requests are already waiting, as many as it holds. "
                                       "Try again in a minute.»")
    assert admission.busy() == ("The app is busy: 5 requests are already waiting, as many as it holds. Try again "
                                "in a minute.")


class Queue:
    """What `guard.admit` wraps: Gradio's queue, here one that lets everything in (or says it is full)."""

    def __init__(self, full: bool = False) -> None:
        self.full, self.event_ids_to_events, self.joined = full, {}, 0

    async def push(self, body, request, username):
        if self.full:
            return False, "Queue is full.", "queue_full"
        self.joined += 1
        return True, "event", "success"


class Request:
    """A browser's request to join the queue, as Starlette hands it to Gradio."""

    def __init__(self, language: str = "") -> None:
        self.headers = {"accept-language": language} if language else {}
        self.client = types.SimpleNamespace(host="10.0.0.7")


def reply(message: str):  # a streamed reply: the only events admission counts
    yield message


def admitted(admission: Admission, queue: Queue, session: str, request: Request) -> tuple:
    demo = types.SimpleNamespace(_queue=queue, fns={0: types.SimpleNamespace(fn=reply)})
    guard.admit(demo, admission)
    body = types.SimpleNamespace(fn_index=0, session_hash=session)
    # In a thread of its own: in the whole suite the browser tests' Playwright keeps an event loop running here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, queue.push(body=body, request=request, username=None)).result()


def test_the_browser_is_refused_in_its_pages_language(swahili: str) -> None:
    clock = Clock()
    admission = Admission(Policy(per_session=9, per_address=9, rate=Rate(1, "minute"), queue_size=5), clock)
    SESSIONS.set("swahili-page", swahili)
    try:
        assert admitted(admission, Queue(), "swahili-page", Request()) == (True, "event", "success")
        ok, said, state = admitted(admission, Queue(), "swahili-page", Request())
        assert (ok, state) == (False, "error") and said.startswith("«You have sent 1 requests in the last «minute»")
        ok, said, state = admitted(admission, Queue(), "english-page", Request())  # same address, English page
        assert (ok, state) == (False, "error") and said.startswith("You have sent 1 requests in the last minute")
        clock.now += 61
        ok, said, state = admitted(admission, Queue(full=True), "swahili-page", Request())
        assert (ok, state) == (False, "queue_full") and said.startswith("«The app is busy: 5 requests")
        # An API client has no page: its Accept-Language says, else English.
        ok, said, _ = admitted(admission, Queue(full=True), "no-page", Request("sw-KE,en;q=0.5"))
        assert said.startswith("«The app is busy")
        ok, said, _ = admitted(admission, Queue(full=True), "no-page", Request())
        assert said.startswith("The app is busy")
    finally:
        SESSIONS.forget("swahili-page")


def test_model_management_is_open_only_on_a_laptop_without_a_token() -> None:
    assert Access(None, local=True).open
    assert not Access(None, local=False).open and not Access(None, local=False).may_manage("s")
    access = Access("s3cret", local=True)
    assert not access.open and not access.may_manage("s")
    assert not access.sign_in("s", "s3cre") and not access.sign_in("s", "")
    assert access.sign_in("s", "s3cret") and access.may_manage("s") and not access.may_manage("t")
