"""Serving throughput: 1, 4, 16, 64 concurrent streams on one model, against same-run baselines.

For each number of streams S, S requests with distinct prompts start at once and each decodes
exactly `--tokens` tokens (random-weight checkpoints never end their turn). Printed, one JSON
object per line:

- `path` "engine": through `Engine.stream` in this process (registry, backend, sampler);
  `path` "api": through the running app's HTTP API (`/chat` with gradio_client), for `--api-streams`;
- `streams`, `aggregate_tok_s` (all tokens / wall time of the wave), `per_stream_tok_s` (mean of
  each stream's tokens / its own seconds), `ttft_p50_s`, `ttft_p95_s` (submit to first token);
- baselines measured in the same run on the same weights: `generate_tok_s` (raw `model.generate`,
  one stream), `static_batch_tok_s` (one `model.generate` call over S copies of a prompt, aggregate),
  and on CUDA `bandwidth_limit_tok_s` (device copy bandwidth / weight bytes: one stream's ceiling);
- `ratio_to_generate` and `ratio_to_static_batch`: the aggregate over those baselines.

    python benchmarks/serving.py --shape tiny --streams 1,4 --tokens 32            # a CPU minute
    python benchmarks/serving.py --shape qwen3-8b --streams 1,4,16,64 --tokens 256  # a GPU's figures

`--shape KEY` gives a random-weight model the architecture of catalogue model KEY (built on the
device, nothing downloaded). `--batching`, `--max-concurrent`, `--precision` and `--device` are
the app's own settings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from gradio_client import Client  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.launch import AppProcess  # noqa: E402
from devtools.tiny import shaped_checkpoint  # noqa: E402
from playground.catalog import Precision, Sampling, load_catalog  # noqa: E402
from playground.devices import default_device  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.loading import TransformersLoader  # noqa: E402
from playground.registry import Registry  # noqa: E402
from playground.requests import Answer, Metrics, Request, Thinking  # noqa: E402
from playground.settings import Settings, Switch  # noqa: E402

MODEL = "bench"
SAMPLING = dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20)  # Qwen's non-thinking preset, for all
TOPICS = ["lighthouses", "volcanoes", "tea", "bridges", "owls", "glaciers", "chess", "bees"]


def prompt(i: int) -> str:
    """Distinct prompts of about the same length (so every stream does the same work)."""
    return f"Request {i:03d}: write a long story about {TOPICS[i % len(TOPICS)]} and the sea."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(path: str, streams: int, waves: list[tuple[float, list[tuple[int, float, float]]]]) -> dict:
    """waves: (wall seconds, [(tokens, seconds, ttft) per stream]) per repeat; the median wave is reported."""
    aggregates = [sum(t for t, _, _ in runs) / wall for wall, runs in waves]
    _, runs = waves[aggregates.index(statistics.median_low(aggregates))]
    return {
        "path": path,
        "streams": streams,
        "aggregate_tok_s": round(statistics.median(aggregates), 2),
        "per_stream_tok_s": round(statistics.mean(t / s for t, s, _ in runs), 2),
        "ttft_p50_s": round(percentile([f for _, _, f in runs], 0.5), 3),
        "ttft_p95_s": round(percentile([f for _, _, f in runs], 0.95), 3),
        "tokens_per_stream": round(statistics.mean(t for t, _, _ in runs), 1),
        "repeats": len(waves),
    }


def wave(streams: int, one) -> tuple[float, list]:
    """Run `one(i)` for i < streams, all at once; the wall time and each result."""
    results: list = [None] * streams
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, one(i))) for i in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, results


def engine_stream(engine: Engine, i: int, tokens: int, precision: Precision | None) -> tuple[int, float, float]:
    request = Request(MODEL, [{"role": "user", "content": prompt(i)}],
                      Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0, seed=i, max_new_tokens=tokens),
                      thinking=False, precision=precision)
    start, first, metrics = time.perf_counter(), None, None
    for event in engine.stream(request):
        if first is None and isinstance(event, Answer | Thinking):
            first = time.perf_counter() - start
        if isinstance(event, Metrics):
            metrics = event
    return metrics.tokens, time.perf_counter() - start, metrics.time_to_first_token_s or first


def api_stream(url: str, i: int, tokens: int) -> tuple[int, float, float]:
    client = Client(url, verbose=False)
    start, first = time.perf_counter(), None
    job = client.submit(message=prompt(i), model=MODEL, thinking=False, temperature=0.7, seed=i,
                        max_new_tokens=tokens, api_name="/chat")
    for update in job:
        if first is None and any(m["content"] for m in update if not m.get("metadata")):
            first = time.perf_counter() - start
    seconds = time.perf_counter() - start
    line = next(m["content"] for m in job.result() if (m.get("metadata") or {}).get("id") == "metrics")
    count = int(line.split(" tokens")[0].split("· ")[-1])
    return count, seconds, first if first is not None else seconds


class Baselines:
    """Plain transformers on the engine's own loaded weights: one stream, and static batches."""

    def __init__(self, model, tokenizer, tokens: int):
        self.model, self.tokenizer, self.tokens = model, tokenizer, tokens
        self.device = model.device

    def _inputs(self, batch: int) -> dict:
        ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt(0)}], add_generation_prompt=True,
                                                 enable_thinking=False, return_tensors="pt", return_dict=True)
        return {k: v.repeat(batch, 1).to(self.device) for k, v in ids.items()}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def generate(self, batch: int = 1) -> float:
        """Aggregate tok/s of one `generate` over `batch` copies of a prompt, sampling as the streams do."""
        inputs = self._inputs(batch)
        self._sync()
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**inputs, **SAMPLING, max_new_tokens=self.tokens, min_new_tokens=self.tokens)
        self._sync()
        return batch * (out.shape[1] - inputs["input_ids"].shape[1]) / (time.perf_counter() - start)

    def bandwidth_limit(self) -> float | None:
        """One stream's ceiling on CUDA: bytes the device copies per second / bytes of weights."""
        if self.device.type != "cuda":
            return None
        buffer = torch.empty(1024**3 // 2, dtype=torch.float16, device=self.device)
        target = torch.empty_like(buffer)
        target.copy_(buffer)
        self._sync()
        start = time.perf_counter()
        for _ in range(10):
            target.copy_(buffer)
        self._sync()
        bandwidth = 2 * 10 * buffer.numel() * buffer.element_size() / (time.perf_counter() - start)  # read + write
        return bandwidth / self.model.get_memory_footprint()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="tiny", help="tiny, or a catalogue key to copy the shape of")
    parser.add_argument("--streams", default="1,4,16,64", help="comma-separated numbers of concurrent streams")
    parser.add_argument("--api-streams", default="1,4", help="the stream counts also measured through the HTTP API "
                        "('' for none)")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per stream")
    parser.add_argument("--precision", choices=[p.value for p in Precision], help="default: the best that fits")
    parser.add_argument("--batching", choices=[s.value for s in Switch], default="auto")
    parser.add_argument("--max-concurrent", type=int, help="default: the largest stream count")
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--repeat", type=int, default=3, help="waves per point, alternating with the baselines; "
                        "medians are reported")
    args = parser.parse_args()
    streams = [int(s) for s in args.streams.split(",")]
    api_streams = [int(s) for s in args.api_streams.split(",") if s]
    precision = Precision(args.precision) if args.precision else None
    settings = Settings(device=args.device, batching=Switch(args.batching),
                        max_concurrent=args.max_concurrent or max(streams + api_streams))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = shaped_checkpoint(args.shape, tmp / MODEL, args.device)
        catalog_path = write_catalog(tmp / "bench.toml", {MODEL: {"source": folder, "tasks": ["chat", "thinking"]}})
        registry = Registry(load_catalog(catalog_path), TransformersLoader(settings), keep_alive_s=0)
        engine = Engine(registry)
        engine_stream(engine, 0, 4, precision)  # load and warm up
        with registry.acquire(MODEL, precision) as lease:
            baselines = Baselines(lease.loaded.model, lease.loaded.processor, args.tokens)
            backend, loaded_precision = lease.loaded.backend.name, lease.precision
            params = sum(p.numel() for p in lease.loaded.model.parameters())
        baselines.generate()  # warm-up
        limit = baselines.bandwidth_limit()
        print(json.dumps({"model": f"random-weight {args.shape}", "params_m": round(params / 1e6, 1),
                          "device": args.device, "precision": str(loaded_precision), "backend": backend,
                          "tokens": args.tokens, "bandwidth_limit_tok_s": None if limit is None else round(limit, 1)}),
              flush=True)

        def measure(path: str, s: int, one) -> None:
            """Waves of `s` streams alternating with the baselines, so both see the same machine."""
            waves, singles, statics = [], [], []
            for _ in range(args.repeat):
                singles.append(baselines.generate())
                statics.append(baselines.generate(s))
                waves.append(wave(s, one))
            row = summary(path, s, waves)
            single, static = statistics.median(singles), statistics.median(statics)
            row.update(generate_tok_s=round(single, 2), static_batch_tok_s=round(static, 2),
                       ratio_to_generate=round(row["aggregate_tok_s"] / single, 2),
                       ratio_to_static_batch=round(row["aggregate_tok_s"] / static, 2),
                       bandwidth_limit_tok_s=None if limit is None else round(limit, 1))
            print(json.dumps(row), flush=True)

        for s in streams:
            measure("engine", s, lambda i: engine_stream(engine, i, args.tokens, precision))

        if api_streams:
            flags = ["--device", args.device, "--batching", args.batching, "--max-concurrent",
                     str(settings.max_concurrent)]
            with AppProcess(catalog_path, tmp / "app.log", *flags) as app:
                api_stream(app.url, 0, 4)  # load and warm up
                for s in api_streams:
                    measure("api", s, lambda i: api_stream(app.url, i, args.tokens))
        registry.close()


if __name__ == "__main__":
    main()
