"""The real app over scripted models, for browser tests of what depends on what a model writes.

`python tests/e2e/scripted_app.py --port N` builds the app exactly as `app.py` does (same tabs,
same engine and backend), but its models are `tests.fakes` scripted ones that write a worked
solution: a boxed answer that depends on the sample's seed, and, when asked for Python, a block
the Math tab runs in its sandbox before the model reads the output and answers.
"""

from __future__ import annotations

import logging

from app import CSS_FILE, build_app
from devtools.tiny import build_tokenizer
from playground.catalog import Sampling
from playground.engine import Engine
from playground.services import Services
from playground.settings import Settings
from tabs import chat
from tests.fakes import scripted_registry

MODEL = "scripted-qwen2"


def solution(prompt: str, sampling: Sampling) -> str:
    """A solution as a math model writes one; two samples in three say 7, the third 8."""
    if "programs" in prompt:  # the TIR system prompt
        if "```output" in prompt:
            return "The code printed the sum, so the answer is $\\boxed{7}$."
        return "Let me add them with Python.\n```python\nprint(3 + 4)\n```"
    answer = 8 if (sampling.seed or 0) % 3 == 0 else 7
    return f"We add: $3 + 4 = {answer}$.\n\nSo the answer is $\\boxed{{{answer}}}$."


def main() -> None:
    settings = Settings.from_sources()
    logging.basicConfig(level=logging.INFO)
    registry, loader = scripted_registry(build_tokenizer("qwen3"))
    for key in registry.catalog.models:
        loader.decoder(key).respond = solution
    services = Services(registry.catalog, registry, Engine(registry), settings, concurrency=16)
    build_app(services).launch(server_name="127.0.0.1", server_port=settings.port, css_paths=[CSS_FILE], js=chat.JS)


if __name__ == "__main__":
    main()
