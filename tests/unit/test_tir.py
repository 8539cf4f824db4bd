"""The TIR loop through the real engine and backend, on a scripted model and a stand-in sandbox.

The scripted model answers by what its prompt holds: before any output block it writes a Python
block (and, as a real model may, goes on writing after it); once the output is in its prompt it
gives the answer. So pause -> run -> resume is exact here; the sandbox itself has its own tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from playground.catalog import Sampling
from playground.engine import Engine
from playground.i18n import Said
from playground.requests import Answer, Cancel, Finish, Metrics, PromptText, Request, Thinking
from playground.tasks.tir import MAX_CALLS, ToolCall, solve
from tests.fakes import scripted_registry

QUESTION = [{"role": "system", "content": "Please integrate natural language reasoning with programs."},
            {"role": "user", "content": "What is 6 times 7?"}]
BLOCK = "Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```"


@dataclass(frozen=True)
class Ran:
    output: str
    ok: bool = True
    seconds: float = 0.01
    said: Said | None = None


class StandIn:
    """Answers each block from a table, and keeps what it was given."""

    def __init__(self, outputs: dict[str, str]):
        self.outputs, self.codes = outputs, []

    def run(self, code: str) -> Ran:
        self.codes.append(code)
        return Ran(self.outputs.get(code, "NameError: name 'y' is not defined"), ok=code in self.outputs)


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


def request(thinking: bool = False, max_new_tokens: int = 400) -> Request:
    return Request("scripted-qwen3", QUESTION, Sampling(temperature=0, max_new_tokens=max_new_tokens),
                   thinking=thinking)


def collect(events) -> tuple[str, str, list[ToolCall], list[PromptText], Metrics]:
    events = list(events)
    thinking = "".join(e.text for e in events if isinstance(e, Thinking))
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert len(metrics) == 1 and events[-1] is metrics[0]  # one Metrics, for the whole reply, last
    return (thinking, answer, [e for e in events if isinstance(e, ToolCall)],
            [e for e in events if isinstance(e, PromptText)], metrics[0])


def test_a_block_pauses_the_model_runs_and_the_model_goes_on_from_its_output(scripted) -> None:
    engine, loader = scripted
    decoder = loader.decoder("scripted-qwen3")
    decoder.respond = lambda prompt, sampling: ("So the answer is $\\boxed{42}$." if "```output\n42\n```" in prompt
                                      else BLOCK + "\n```output\n41 (made up)\n```\nSo 41.")
    sandbox = StandIn({"x = 6 * 7\nprint(x)": "42"})
    thinking, answer, calls, prompts, metrics = collect(solve(engine, request(), sandbox))
    assert sandbox.codes == ["x = 6 * 7\nprint(x)"]
    assert [(c.number, c.output, c.ok, c.in_thinking) for c in calls] == [(1, "42", True, False)]
    # What the model wrote after its block, before it was stopped, is not part of the reply.
    assert answer == BLOCK + "So the answer is $\\boxed{42}$." and thinking == ""
    second = decoder.prompts[1]
    second_text = loader.tokenizer.decode(second.input_ids, skip_special_tokens=False)
    assert second_text.endswith(BLOCK + "\n```output\n42\n```\n")  # the model reads the real output
    assert len(prompts) == 1 and metrics.finish is Finish.STOP
    assert metrics.tokens > len(loader.tokenizer.encode("So the answer is $\\boxed{42}$."))  # both steps count


def test_calls_stop_at_the_limit_and_later_blocks_stay_text(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: "```python\nprint(1)\n```\nand again"
    sandbox = StandIn({"print(1)": "1"})
    _, answer, calls, _, metrics = collect(solve(engine, request(), sandbox))
    assert len(calls) == MAX_CALLS == len(sandbox.codes)
    assert answer.endswith("```python\nprint(1)\n```\nand again")  # the fifth block was not run
    assert metrics.finish is Finish.STOP


def test_a_block_in_the_thinking_runs_and_the_thinking_goes_on(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: (
        "It is 42.\n</think>\n\n$\\boxed{42}$" if "```output\n42\n```" in prompt
        else "<think>\nCheck with code.\n```python\nprint(6 * 7)\n```\nnoise")
    thinking, answer, calls, _, _ = collect(solve(engine, request(thinking=True), StandIn({"print(6 * 7)": "42"})))
    assert calls[0].in_thinking and answer == "$\\boxed{42}$"
    assert thinking == "Check with code.\n```python\nprint(6 * 7)\n```It is 42."


def test_an_error_goes_back_to_the_model_as_its_output(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: (
        "Fixed: \\boxed{0}" if "NameError" in prompt else "```python\nprint(y)\n```")
    _, answer, calls, _, _ = collect(solve(engine, request(), StandIn({})))
    assert not calls[0].ok and calls[0].output.startswith("NameError") and calls[0].said is None
    assert answer.endswith("Fixed: \\boxed{0}")


def test_a_block_the_sandbox_stopped_says_why_for_people_too(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: (
        "Too slow: \\boxed{0}" if "TimeoutError" in prompt else "```python\nwhile True: pass\n```")
    why = Said("sandbox.wall_time", {"seconds": 10})

    class Stops(StandIn):
        def run(self, code: str) -> Ran:
            return Ran(f"TimeoutError: {why}", ok=False, said=why)

    _, answer, calls, _, _ = collect(solve(engine, request(), Stops({})))
    assert (calls[0].output, calls[0].said) == ("TimeoutError: the code ran longer than 10 s", why)
    assert answer.endswith("Too slow: \\boxed{0}")


def test_max_new_tokens_bounds_the_whole_reply(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: "```python\nprint(1)\n```" + " word" * 50
    *_, metrics = collect(solve(engine, request(max_new_tokens=30), StandIn({"print(1)": "1"})))
    assert metrics.tokens <= 30 + 2  # a step may write a token or two past a block before it stops
    assert metrics.finish is Finish.LENGTH


def test_stop_ends_the_reply_between_steps(scripted) -> None:
    engine, loader = scripted
    cancel, ran = Cancel(), threading.Event()

    class StopsWhileRunning(StandIn):
        def run(self, code: str) -> Ran:
            cancel.set()  # the user presses Stop while the code runs
            ran.set()
            return super().run(code)

    loader.decoder("scripted-qwen3").respond = lambda prompt, sampling: "```python\nprint(1)\n```"
    *_, metrics = collect(solve(engine, request(), StopsWhileRunning({"print(1)": "1"}), cancel))
    assert ran.is_set() and metrics.finish is Finish.CANCELLED
    assert len(loader.decoder("scripted-qwen3").prompts) == 1  # no step after the Stop
