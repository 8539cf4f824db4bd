"""The real app (same tabs, engine, /v1 API and admission as `app.py`) over scripted models, for the /v1 tests
of what depends on what a model writes.

`python tests/integration/scripted_openai_app.py --port N [flags]`. A scripted model thinks, then answers
(`THOUGHT`, `ANSWER`); told not to think (the template closed the thinking block), it answers `UNTHOUGHT`;
asked for a story, `SLOW_MODEL` writes a very long one slowly, for a client to walk away from; `BROKEN_MODEL`
is in the catalogue but cannot be loaded.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from app import admission_for, build_app, serve
from devtools.tiny import build_tokenizer
from playground.access import Access
from playground.catalog import Catalog, Sampling
from playground.engine import Engine
from playground.registry import Registry
from playground.services import Services, input_limits, started_monitor
from playground.settings import Settings
from tests.fakes import scripted_registry

THOUGHT = "The user asks for 3 + 4. That is 7."
ANSWER = "The answer is 7."
UNTHOUGHT = "Thinking was off, so straight to it: 7."
SLOW_MODEL = "scripted-qwen2"
STORY_WORDS = 3000
BROKEN_MODEL = "scripted-broken"


def reply(prompt: str, sampling: Sampling) -> str:
    if "long story" in prompt:
        return "Once upon a time" + " and then" * STORY_WORDS
    if prompt.rstrip().endswith("</think>"):  # enable_thinking false: the template wrote an empty block
        return UNTHOUGHT
    return f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"


def main() -> None:
    settings = Settings.from_sources()
    logging.basicConfig(level=logging.INFO)
    scripted, loader = scripted_registry(build_tokenizer("qwen3"))
    models = dict(scripted.catalog.models)
    models[BROKEN_MODEL] = replace(models["scripted-qwen3"], key=BROKEN_MODEL,
                                   unavailable="its folder ./scripted-broken is missing.")
    registry = Registry(Catalog(models), loader)
    for key in models:
        loader.decoder(key).respond = reply
    loader.decoder(SLOW_MODEL).seconds_per_token = 0.02
    engine = Engine(registry, input_limits(settings), started_monitor(settings, "cpu"))
    services = Services(registry.catalog, registry, engine, settings, concurrency=settings.max_concurrent,
                        access=Access(settings.admin_token, settings.local))
    admission = admission_for(settings)
    serve(build_app(services, admission), services, admission)


if __name__ == "__main__":
    main()
