"""Fitting a long conversation into the context window: the app's `build_prompt` against dropping one turn at a time.

The baseline is what the app did before: render and tokenize the whole conversation, drop the
oldest turn, and again, until it fits (one render per dropped turn). Both run here, on the same
conversations and the same tokenizer (Qwen's special tokens and Qwen3's chat template); the
prompt they produce must be the same. Prints one JSON object per conversation length.

    python benchmarks/context_fit.py [--turns 100,200,400] [--budget 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.tiny import build_tokenizer  # noqa: E402
from playground.backends.prompt import build_prompt  # noqa: E402


def conversation(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(turns):
        question = f"Question {i}: " + "what is the weather like in Paris today? " * 4
        answer = f"Answer {i}: " + "it is sunny and warm, with a light wind. " * 8
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": "And tomorrow?"}]


def drop_one_at_a_time(tokenizer, messages: list[dict[str, str]], budget: int) -> list[int]:
    """The baseline: re-render after dropping each oldest turn (a user message and the reply after it)."""
    system, turns = messages[:1], messages[1:]
    while True:
        ids = tokenizer.apply_chat_template(system + turns, add_generation_prompt=True, enable_thinking=True)
        ids = ids["input_ids"]
        if len(ids) <= budget:
            return ids
        turns = turns[2:]


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", default="100,200,400")
    parser.add_argument("--budget", type=int, default=3000, help="prompt tokens that fit")
    args = parser.parse_args()
    tokenizer = build_tokenizer("qwen3")
    for turns in (int(t) for t in args.turns.split(",")):
        messages = conversation(turns)
        app_s, prompt = timed(build_prompt, tokenizer, messages, True, args.budget)
        base_s, ids = timed(drop_one_at_a_time, tokenizer, messages, args.budget)
        print(json.dumps({"turns": turns, "budget": args.budget, "app_s": round(app_s, 3),
                          "drop_one_at_a_time_s": round(base_s, 3), "speedup": round(base_s / app_s, 1),
                          "same_prompt": prompt.input_ids == ids, "kept_messages": len(messages) - 1 - prompt.dropped}),
              flush=True)


if __name__ == "__main__":
    main()
