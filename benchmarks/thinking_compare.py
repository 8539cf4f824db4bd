"""The Thinking tab's comparison: its wall time ÷ the two columns run one after the other.

Both columns use one model, left thinking on and right off, as the tab's default. "together" is
the tab's own `compare` handler (both columns at once; on a batched backend, one batch);
"one after the other" is the same two requests through the engine, the second after the first
ends. Each repeat runs both, alternating, on the same loaded weights; medians are printed, one
JSON object per line:

- `together_s`, `sequential_s`: wall seconds, submit to both columns ended;
- `ratio`: together_s / sequential_s (1.0: no gain; 0.5: two columns for the price of one);
- `tokens`: what each column wrote (random weights rarely end their turn, so about `--tokens`).

    python benchmarks/thinking_compare.py --shape tiny --tokens 64 --batching on   # a CPU minute
    python benchmarks/thinking_compare.py --shape qwen3-8b --tokens 512            # a GPU's figure

`--shape KEY` gives a random-weight model the architecture of catalogue model KEY (built on the
device, nothing downloaded). `--batching` and `--device` are the app's own settings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.tiny import shaped_checkpoint  # noqa: E402
from playground.catalog import Sampling, load_catalog  # noqa: E402
from playground.devices import default_device  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.loading import TransformersLoader  # noqa: E402
from playground.registry import Registry  # noqa: E402
from playground.requests import Metrics, Request  # noqa: E402
from playground.settings import Settings, Switch  # noqa: E402
from tabs.reply import Stops  # noqa: E402
from tabs.thinking import SIDES, Column, compare  # noqa: E402

MODEL = "bench"
PROMPT = "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?"


def columns(tokens: int, seed: int) -> dict[str, Column]:
    """The tab's default: one model, left thinking on (Qwen3's thinking preset), right off (its plain one)."""
    return {"left": Column(MODEL, True, Sampling(temperature=0.6, top_p=0.95, top_k=20, seed=seed,
                                                 max_new_tokens=tokens)),
            "right": Column(MODEL, False, Sampling(temperature=0.7, top_p=0.8, top_k=20, seed=seed,
                                                   max_new_tokens=tokens))}


def together(engine: Engine, tokens: int, seed: int) -> tuple[float, list[int]]:
    start = time.perf_counter()
    state = list(compare(engine, Stops(), "bench", PROMPT, "", columns(tokens, seed), None))[-1]
    seconds = time.perf_counter() - start
    for side in SIDES:
        assert state.views[side].error is None, state.views[side].error
    return seconds, [state.views[side].metrics.tokens for side in SIDES]


def sequential(engine: Engine, tokens: int, seed: int) -> tuple[float, list[int]]:
    start, counts = time.perf_counter(), []
    for column in columns(tokens, seed).values():
        request = Request(MODEL, [{"role": "user", "content": PROMPT}], column.sampling, thinking=column.thinking)
        counts += [event.tokens for event in engine.stream(request) if isinstance(event, Metrics)]
    return time.perf_counter() - start, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="tiny", help="tiny, or a catalogue key to copy the shape of")
    parser.add_argument("--tokens", type=int, default=256, help="new tokens per column")
    parser.add_argument("--batching", choices=[s.value for s in Switch], default="auto")
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; medians are reported")
    args = parser.parse_args()
    settings = Settings(device=args.device, batching=Switch(args.batching))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = shaped_checkpoint(args.shape, tmp / MODEL, args.device)
        catalog_path = write_catalog(tmp / "bench.toml", {MODEL: {"source": folder, "tasks": ["chat", "thinking"]}})
        registry = Registry(load_catalog(catalog_path), TransformersLoader(settings), keep_alive_s=0)
        engine = Engine(registry)
        together(engine, 4, 0)  # load and warm up both paths
        sequential(engine, 4, 0)
        with registry.acquire(MODEL) as lease:
            backend, precision = lease.loaded.backend.name, lease.precision
        joint, alone, tokens = [], [], []
        for i in range(args.repeat):
            seconds, counts = together(engine, args.tokens, seed=i)
            joint.append(seconds)
            tokens.append(counts)
            alone.append(sequential(engine, args.tokens, seed=i)[0])
        registry.close()
    print(json.dumps({"model": f"random-weight {args.shape}", "device": args.device, "precision": str(precision),
                      "backend": backend, "tokens": args.tokens, "together_s": round(statistics.median(joint), 2),
                      "sequential_s": round(statistics.median(alone), 2),
                      "ratio": round(statistics.median(joint) / statistics.median(alone), 2),
                      "column_tokens": tokens, "repeats": args.repeat}), flush=True)


if __name__ == "__main__":
    main()
