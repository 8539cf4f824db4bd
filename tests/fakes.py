"""Helpers and test doubles shared by the test suites (test modules never import each other).

- `TINY_MODELS` / `tiny_entries`: the tiny random-weight checkpoints the session builds, as catalogue
  entries (written with `devtools.catalogs.write_catalog`, so no test hand-writes TOML).
- `FakeLoader`: a deterministic device of N bytes whose "loads" take the estimated weights.
- `ScriptedDecoder` / `scripted_registry`: a model that "writes" given texts, token by token,
  through the real backend, engine and tabs, for behaviour that depends on what a model says.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from devtools.tiny import build_processor
from playground.backends.local import LocalBackend, Progress
from playground.backends.prompt import Prompt
from playground.backends.remote import RemoteModels
from playground.catalog import ModelSpec, Precision, Sampling, parse_catalog
from playground.memory import DeviceMemory, context_tokens, estimate
from playground.registry import LoadedModel, LoadProgress, Registry
from playground.requests import Cancel, Finish
from playground.tasks.thinking import ThinkingBudget

# The tiny models as catalogue entries: key -> (architecture for devtools.tiny, tasks).
TINY_MODELS = {
    "tiny-qwen2": ("qwen2", ["chat", "math", "code"]),
    "tiny-qwen3": ("qwen3", ["chat", "math", "code", "thinking"]),
    "tiny-qwen3-moe": ("qwen3_moe", ["chat", "thinking"]),
    "tiny-qwen2.5-vl": ("qwen2_5_vl", ["vision"]),
    "tiny-qwen3-vl": ("qwen3_vl", ["vision"]),
}
QWEN3_THINKING_PRESET = {"temperature": 0.6, "top_p": 0.95, "top_k": 20}


# --- catalogue entries ----------------------------------------------------------------------


def tiny_entries(checkpoints: Mapping[str, Path], **extra: Any) -> dict[str, dict[str, Any]]:
    """Catalogue entries for the tiny checkpoints; local folders leave the numbers to config.json."""
    entries = {}
    for key, path in checkpoints.items():
        tasks = TINY_MODELS[key][1]
        entry: dict[str, Any] = {"source": path, "tasks": tasks, **extra}
        if "thinking" in tasks:
            entry["sampling"] = {"thinking": QWEN3_THINKING_PRESET}
        entries[key] = entry
    return entries


# --- a fake device ----------------------------------------------------------------------------


class FakeLoader:
    """A device with `total` bytes; loading takes the estimated weights. Deterministic and instant.

    `batch` > 1 asks for KV cache for that many requests (as a batched backend does).
    """

    device = "cpu"

    def __init__(self, total: int, batch: int = 1):
        self.total = total
        self.batch = batch
        self.loaded: list[LoadedModel] = []
        self.calls: list[tuple[str, Precision]] = []
        self.kv_granted: dict[tuple[str, Precision], int] = {}
        self.gate: threading.Event | None = None  # when set, loads wait for it
        self.fail: dict[tuple[str, Precision], Exception] = {}

    def kv_tokens(self, spec: ModelSpec) -> tuple[int, int]:
        window = context_tokens(spec)
        return window, window * self.batch

    def load(self, spec: ModelSpec, precision: Precision, kv_tokens: int,
             progress: LoadProgress | None = None) -> LoadedModel:
        self.calls.append((spec.key, precision))
        self.kv_granted[(spec.key, precision)] = kv_tokens
        if progress is not None:
            progress.report("weights", 1, 4)
        if self.gate is not None:
            assert self.gate.wait(5)
        error = self.fail.get((spec.key, precision))
        if error is not None:
            raise error
        loaded = LoadedModel(model=(spec.key, precision), processor=None, footprint=estimate(spec, precision).weights)
        self.loaded.append(loaded)
        return loaded

    def unload(self, loaded: LoadedModel) -> None:
        self.loaded.remove(loaded)

    def memory(self) -> DeviceMemory:
        used = sum(m.footprint for m in self.loaded)
        return DeviceMemory("cpu", "fake", self.total - used, self.total)

    def resident(self) -> set:
        return {m.model for m in self.loaded}


# --- a scripted model ---------------------------------------------------------------------------


class ScriptedDecoder:
    """A decoder that "generates" the tokens of queued texts, one reply per text, then ends its turn.

    `enqueue("<think>...</think>The answer")` sets what the next request writes; with nothing
    queued it writes `default`. Where requests race (two columns on one model), `respond` picks each
    reply from the prompt text instead. `max_new_tokens` and Stop are honoured as a model's would be.
    """

    name = "scripted"

    def __init__(self, tokenizer: Any, default: str = "Hello."):
        self.tokenizer = tokenizer
        self.default = default
        self.replies: deque[str] = deque()
        self.prompts: list[Prompt] = []  # what each request was given, for tests to inspect
        # The reply for (prompt text, sampling), where the order of requests is unknown (samples differ by seed).
        self.respond: Callable[[str, Sampling], str] | None = None
        self.end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.seconds_per_token = 0.0  # > 0: write as slowly as a real model, for tests of what waits

    def enqueue(self, *texts: str) -> None:
        self.replies.extend(texts)

    def tokens(self, prompt: Prompt, sampling: Sampling, cancel: Cancel, progress: Progress,
               budget: ThinkingBudget | None = None) -> Iterator[int]:
        """The queued text's tokens; where a thinking budget cuts in, its tokens first, then the text goes on."""
        self.prompts.append(prompt)
        if self.respond is not None:
            text = self.respond(self.tokenizer.decode(prompt.input_ids, skip_special_tokens=False), sampling)
        else:
            text = self.replies.popleft() if self.replies else self.default
        script = iter([*self.tokenizer.encode(text, add_special_tokens=False), self.end_of_turn])
        progress.started = time.perf_counter()
        count = 0
        while True:
            if cancel.is_set() or (self.seconds_per_token and cancel.wait_set(self.seconds_per_token)):
                progress.finish = Finish.CANCELLED
                return
            token = budget.forced() if budget is not None else None
            if token is None:
                token = next(script)
            if budget is not None:
                budget.observe(token)
            count += 1
            yield token
            if token == self.end_of_turn:
                progress.finish = Finish.STOP
                return
            if count >= sampling.max_new_tokens:
                progress.finish = Finish.LENGTH
                return

    def close(self) -> None:
        pass


class ScriptedLoader:
    """Loads every catalogue model as a `ScriptedDecoder` behind the real `LocalBackend`."""

    device = "cpu"

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.decoders: dict[str, ScriptedDecoder] = {}
        self.processors: dict[str, Any] = {}
        self.gate: threading.Event | None = None  # when set, loads wait for it
        self.fail: Exception | None = None  # when set, loads raise it

    def decoder(self, key: str) -> ScriptedDecoder:
        return self.decoders.setdefault(key, ScriptedDecoder(self.tokenizer))

    def kv_tokens(self, spec: ModelSpec) -> tuple[int, int]:
        return 0, 0

    def load(self, spec: ModelSpec, precision: Precision, kv_tokens: int,
             progress: LoadProgress | None = None) -> LoadedModel:
        if self.gate is not None:  # a load that takes as long as the test wants
            if progress is not None:
                progress.report("download", 512, 2048)
            assert self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        processor = self.processor(spec)
        backend = LocalBackend(spec, precision, None, processor, self.decoder(spec.key), "cpu")
        return LoadedModel(model=None, processor=processor, footprint=0, backend=backend)

    def processor(self, spec: ModelSpec) -> Any:
        """The tokenizer; for a vision model, its family's real (tiny) processor around one like it."""
        if not spec.is_vision:
            return self.tokenizer
        arch = "qwen3_vl" if spec.family.startswith("qwen3") else "qwen2_5_vl"
        if arch not in self.processors:
            self.processors[arch] = build_processor(arch)
        return self.processors[arch]

    def unload(self, loaded: LoadedModel) -> None:
        pass

    def memory(self) -> DeviceMemory:
        return DeviceMemory("cpu", "scripted", 1 << 40, 1 << 40)


SCRIPTED_CATALOG = {
    "scripted-qwen3": {"source": "./scripted", "tasks": ["chat", "thinking", "math", "code"], "context_length": 4096,
                       "sampling": {"thinking": QWEN3_THINKING_PRESET}},
    "scripted-qwen2": {"source": "./scripted", "tasks": ["chat", "math", "code"], "context_length": 4096},
    "scripted-qwen3-thinking": {"source": "./scripted", "tasks": ["chat", "thinking"], "context_length": 4096,
                                "thinking_mode": "always"},
    "scripted-coder": {"source": "./scripted", "tasks": ["code", "fim"], "context_length": 4096,
                       "sampling": {"temperature": 0.0, "top_p": 1.0, "top_k": 1}},
    # Vision: the prompt goes through the family's real processor (image pads and all); the reply is scripted.
    "scripted-qwen2.5-vl": {"source": "./scripted", "family": "qwen2.5-vl", "tasks": ["chat", "vision"],
                            "context_length": 4096, "params_billion": 3.0},
    "scripted-qwen3-vl": {"source": "./scripted", "family": "qwen3-vl", "tasks": ["chat", "vision"],
                          "context_length": 4096, "params_billion": 2.0},
    "scripted-qwen3-vl-thinking": {"source": "./scripted", "family": "qwen3-vl",
                                   "tasks": ["chat", "vision", "thinking"], "thinking_mode": "always",
                                   "context_length": 4096, "params_billion": 2.0},
}


def scripted_registry(tokenizer: Any, remote: Mapping[str, Any] | None = None) -> tuple[Registry, ScriptedLoader]:
    """A registry whose models are scripted, over a tokenizer with Qwen's chat template; `remote`: catalogue
    entries of models on another (scripted) server, to add."""
    loader = ScriptedLoader(tokenizer)
    catalog = parse_catalog({"models": {**SCRIPTED_CATALOG, **(remote or {})}})
    return Registry(catalog, loader, remotes=RemoteModels(catalog)), loader
