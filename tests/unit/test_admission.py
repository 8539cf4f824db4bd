"""Admission to the queue: per-session and per-address caps, and the rate limit per address."""

from __future__ import annotations

import pytest

from playground.access import Access
from playground.admission import Admission, Policy, Rate, wait_text
from playground.settings import Settings


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
    assert wait_text(seconds) == text


def test_model_management_is_open_only_on_a_laptop_without_a_token() -> None:
    assert Access(None, local=True).open
    assert not Access(None, local=False).open and not Access(None, local=False).may_manage("s")
    access = Access("s3cret", local=True)
    assert not access.open and not access.may_manage("s")
    assert not access.sign_in("s", "s3cre") and not access.sign_in("s", "")
    assert access.sign_in("s", "s3cret") and access.may_manage("s") and not access.may_manage("t")
