"""The Math tab's majority vote: k samples at once ÷ the same k one after the other; and the sandbox's cost.

"together" is the tab's own `solve` (k samples at once; on a batched backend, one batch); "one
after the other" sends the same k requests through the engine in turn. Each repeat runs both,
alternating, on the same loaded weights; medians are printed as JSON lines:

- `samples`, `together_s`, `sequential_s`, `ratio` (together / sequential; 1/k is the ideal);
- `sandbox`: seconds for a first Python call (the worker starts and imports numpy and sympy), a
  later call, and a call after a timeout killed the worker (a fresh one re-runs the earlier blocks).

    python benchmarks/math_vote.py --samples 8 --tokens 64 --batching on     # a CPU minute
    python benchmarks/math_vote.py --shape qwen2.5-math-7b-instruct --samples 16 --tokens 512   # a GPU's figure
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
from playground.settings import Settings, Switch  # noqa: E402
from playground.tasks.sandbox import Limits, Sandbox  # noqa: E402
from tabs.math_tab import Problem, solve  # noqa: E402
from tabs.reply import Stops  # noqa: E402

MODEL = "bench"
PROBLEM = "Find the critical points of f(x) = x^3 + 2x^2 - 5x + 3."


def problem(samples: int, tokens: int, seed: int) -> Problem:
    sampling = Sampling(temperature=0.7, top_p=0.8, top_k=20, seed=seed, max_new_tokens=tokens)
    return Problem(PROBLEM, "Step by step", samples, MODEL, False, sampling)


def together(engine: Engine, samples: int, tokens: int, seed: int) -> float:
    start = time.perf_counter()
    replies = list(solve(engine, Stops(), "bench", problem(samples, tokens, seed)))[-1]
    seconds = time.perf_counter() - start
    assert all(view.error is None and view.metrics for view in replies.views.values())
    return seconds


def sequential(engine: Engine, samples: int, tokens: int, seed: int) -> float:
    start = time.perf_counter()
    for i in range(samples):
        asked = problem(1, tokens, seed + i)
        list(solve(engine, Stops(), "bench", asked))
    return time.perf_counter() - start


def sandbox_figures() -> dict[str, float]:
    with Sandbox(Limits(wall_s=1)) as sandbox:
        start = time.perf_counter()
        sandbox.run("import sympy\nx = sympy.symbols('x')\nprint(sympy.diff(x**3 + 2*x**2 - 5*x + 3, x))")
        first = time.perf_counter() - start
        start = time.perf_counter()
        sandbox.run("print(sympy.solve(3*x**2 + 4*x - 5, x))")
        later = time.perf_counter() - start
        sandbox.run("while True: pass")
        start = time.perf_counter()
        sandbox.run("print(x)")
        replayed = time.perf_counter() - start
    return {"first_call_s": round(first, 3), "later_call_s": round(later, 3), "after_a_timeout_s": round(replayed, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="tiny", help="tiny, or a catalogue key to copy the shape of")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per sample")
    parser.add_argument("--batching", choices=[s.value for s in Switch], default="auto")
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(device=args.device, batching=Switch(args.batching), max_concurrent=max(16, args.samples))
    print(json.dumps({"sandbox": sandbox_figures()}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = shaped_checkpoint(args.shape, tmp / MODEL, args.device, tiny_arch="qwen2")
        catalog_path = write_catalog(tmp / "bench.toml", {MODEL: {"source": folder, "tasks": ["chat", "math"]}})
        registry = Registry(load_catalog(catalog_path), TransformersLoader(settings), keep_alive_s=0)
        engine = Engine(registry)
        together(engine, 2, 4, 0)  # load and warm up
        with registry.acquire(MODEL) as lease:
            backend, precision = lease.loaded.backend.name, lease.precision
        joint, alone = [], []
        for i in range(args.repeat):
            joint.append(together(engine, args.samples, args.tokens, seed=100 * i))
            alone.append(sequential(engine, args.samples, args.tokens, seed=100 * i))
        registry.close()
    print(json.dumps({"model": f"random-weight {args.shape}", "device": args.device, "precision": str(precision),
                      "backend": backend, "samples": args.samples, "tokens": args.tokens,
                      "together_s": round(statistics.median(joint), 2),
                      "sequential_s": round(statistics.median(alone), 2),
                      "ratio": round(statistics.median(joint) / statistics.median(alone), 2),
                      "repeats": args.repeat}), flush=True)


if __name__ == "__main__":
    main()
