"""What the playground adds in front of a remote model server, and what its own /v1 API adds in front of the app.

1. `path` "direct" vs "engine": S concurrent streams from a scripted OpenAI-compatible server on
   loopback (`devtools.fake_openai`, replying `--chunks` chunks as fast as it can), read with the
   `openai` client directly (the baseline, same run) and through the app's `Engine` and
   `RemoteBackend` (registry lease, thinking split, events, metrics). Printed per S: chunks per
   second in all, time to first chunk p50/p95, and `ratio_to_direct` (the direct wave's seconds over
   the engine's: 1.0 = no cost).
2. `path` "chat" vs "v1": the running app over the tiny Qwen3 (`--tiny`), one greedy reply of
   `--tokens` tokens at a time, through Gradio's `/chat` (gradio_client, the baseline) and through
   `/v1/chat/completions` (the `openai` client, streamed); same text, time to first token and
   seconds, `ratio_to_chat`. Skipped without `--tiny`.

    python benchmarks/remote.py --streams 1,8,32 --chunks 2000
    python benchmarks/remote.py --streams 1 --tiny --tokens 64
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai  # noqa: E402

from devtools.fake_openai import SERVED, FakeOpenAI  # noqa: E402
from playground.backends.remote import RemoteModels  # noqa: E402
from playground.catalog import Sampling, parse_catalog  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.registry import Registry  # noqa: E402
from playground.requests import Answer, Request, Thinking  # noqa: E402


class NoLoader:
    """The registry's loader, never asked to load: every model here is remote."""

    device = "cpu"

    def kv_tokens(self, spec):
        return 0, 0

    def memory(self):
        raise AssertionError("a remote model needs no memory here")


def wave(streams: int, one: Callable[[int], tuple[float, int]]) -> dict[str, float]:
    """Run `one(i)` (-> time to first chunk, chunks) on `streams` threads at once."""
    results: list[tuple[float, int]] = [(0.0, 0)] * streams

    def run(i: int) -> None:
        results[i] = one(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(streams)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    firsts = sorted(r[0] for r in results)
    return {"streams": streams, "chunks": sum(r[1] for r in results), "seconds": round(seconds, 3),
            "chunks_per_s": round(sum(r[1] for r in results) / seconds, 1),
            "first_p50_ms": round(1000 * statistics.median(firsts), 2),
            "first_p95_ms": round(1000 * firsts[int(0.95 * (len(firsts) - 1))], 2)}


def proxy_figures(streams: list[int], chunks: int) -> None:
    reply = "<think>\n" + "hmm " * (chunks // 4) + "\n</think>\n\n" + "word " * (chunks * 3 // 4)
    with FakeOpenAI(reply=reply) as server:
        catalog = parse_catalog({"models": {"far": {"backend": "openai", "base_url": server.base_url, "model": SERVED,
                                                    "tasks": ["chat", "thinking"]}}})
        engine = Engine(Registry(catalog, NoLoader(), remotes=RemoteModels(catalog, environ={})))
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        messages = [{"role": "user", "content": "Go"}]

        def direct(i: int) -> tuple[float, int]:
            started, first, count = time.perf_counter(), None, 0
            for chunk in client.chat.completions.create(model=SERVED, messages=messages, stream=True,
                                                         max_tokens=chunks * 2):
                if chunk.choices and (chunk.choices[0].delta.content or chunk.choices[0].delta.model_extra):
                    first = first or time.perf_counter() - started
                    count += 1
            return first or 0.0, count

        def through_engine(i: int) -> tuple[float, int]:
            started, first, count = time.perf_counter(), None, 0
            request = Request("far", messages, Sampling(max_new_tokens=chunks * 2, top_k=0))
            for event in engine.stream(request):
                if isinstance(event, Thinking | Answer):
                    first = first or time.perf_counter() - started
                    count += 1
            return first or 0.0, count

        direct(0), through_engine(0)  # warm: connections open, code paths imported
        for s in streams:
            base = wave(s, direct)
            print(json.dumps({"path": "direct", **base}), flush=True)
            mine = wave(s, through_engine)
            print(json.dumps({"path": "engine", **mine,
                              "ratio_to_direct": round(base["seconds"] / mine["seconds"], 3)}), flush=True)


def api_figures(tokens: int, repeats: int) -> None:
    from gradio_client import Client

    from devtools.catalogs import write_catalog
    from devtools.launch import AppProcess
    from devtools.tiny import build_checkpoint

    folder = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    checkpoint = build_checkpoint("qwen3", folder / "tiny-qwen3")
    catalog = write_catalog(folder / "tiny.toml", {"tiny": {"source": checkpoint, "tasks": ["chat", "thinking"]}})
    with AppProcess(catalog, folder / "app.log") as app:
        chat = Client(app.url, verbose=False)
        api = openai.OpenAI(base_url=f"{app.url}v1", api_key="x", max_retries=0)
        sampling = dict(temperature=0, top_p=0.8, top_k=20, min_p=0.0, repetition_penalty=1.0, seed=1)
        chat.predict(message="warm up", model="tiny", thinking=False, max_new_tokens=4, api_name="/chat", **sampling)
        rows: dict[str, list[tuple[float, float, str]]] = {"chat": [], "v1": []}
        for i in range(repeats):
            message = f"Tell me about rivers, number {i}."
            chat = Client(app.url, verbose=False)  # a new session: /chat keeps each session's conversation
            started, first = time.perf_counter(), None
            job = chat.submit(message=message, model="tiny", thinking=False, max_new_tokens=tokens, api_name="/chat",
                              **sampling)
            for update in job:
                if first is None and any(not m.get("metadata") and m["content"] for m in update):
                    first = time.perf_counter() - started
            text = "".join(m["content"] for m in job.result() if not m.get("metadata"))
            rows["chat"].append((first or 0.0, time.perf_counter() - started, text))
            started, first, parts = time.perf_counter(), None, []
            for chunk in api.chat.completions.create(
                    model="tiny", messages=[{"role": "user", "content": message}], max_tokens=tokens, stream=True,
                    temperature=0, top_p=0.8, seed=1, extra_body={"top_k": 20, "chat_template_kwargs":
                                                                  {"enable_thinking": False}}):
                if chunk.choices and chunk.choices[0].delta.content:
                    first = first or time.perf_counter() - started
                    parts.append(chunk.choices[0].delta.content)
            rows["v1"].append((first or 0.0, time.perf_counter() - started, "".join(parts)))
        same = all(a[2] == b[2] for a, b in zip(rows["chat"], rows["v1"], strict=True))
        base = statistics.median(r[1] for r in rows["chat"])
        for path, results in rows.items():
            seconds = statistics.median(r[1] for r in results)
            print(json.dumps({"path": path, "tokens": tokens, "repeats": repeats,
                              "ttft_p50_s": round(statistics.median(r[0] for r in results), 3),
                              "seconds_p50": round(seconds, 3), "ratio_to_chat": round(seconds / base, 3),
                              "same_text_as_chat": same}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", default="1,8,32")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--tiny", action="store_true", help="also /v1 against /chat on the running app")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    proxy_figures([int(s) for s in args.streams.split(",")], args.chunks)
    if args.tiny:
        api_figures(args.tokens, args.repeats)


if __name__ == "__main__":
    main()
