"""Many clients at once through the HTTP API, as a workshop or a public Space sees them.

For each number of clients (10, 25, 50, 100 by default), that many clients start together, each
from its own network address (X-Forwarded-For), with a mix of what people do:

- chat: a greedy /chat to the end; its reply must equal the reply to the same prompt asked alone
  (a reply that mixes sessions would differ);
- stop: a chat the client cancels once the first text arrives;
- disconnect: a chat the client abandons while it still waits in the queue;
- bad input: an empty message, a non-numeric seed, a 1 MB message: each must get its clear message.

Meanwhile /health is polled twice a second. Prints one JSON line per round: completions, clean
refusals ("busy" at the queue's bound), unexpected errors, replies that did not match, p50/p95
time to first text of the chats, /health answers and their slowest time, and the server's RSS
before and after (after the round has drained, less before: what a round leaves behind).

    python benchmarks/load.py [--clients 10 25 50 100] [--queue-size 64] [--tokens 32] [--device cpu]

A tiny random-weight Qwen3 checkpoint is built locally; nothing is downloaded.
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

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.launch import AppProcess  # noqa: E402
from devtools.tiny import build_checkpoint  # noqa: E402

PROMPTS = [f"Client story {k}: tell me about the sea, the wind and lighthouse number {k}." for k in range(5)]
KINDS = ["chat", "chat", "stop", "disconnect", "bad"]
JOB_TIMEOUT_S = 300
BAD = [({"message": ""}, "Type a message first."), ({"seed": "abc"}, "Seed must be a number"),
       ({"message": "x" * 1_000_000}, "characters long; this app takes at most")]


def reply_text(messages: list[dict]) -> str:
    return "".join(m["content"] for m in messages if not (m.get("metadata") or {}))


def client(url: str, i: int) -> Client:
    return Client(url, verbose=False, headers={"X-Forwarded-For": f"10.0.{i // 250}.{i % 250 + 1}"})


def ask(url: str, i: int, tokens: int, **kwargs) -> dict:
    args = {"message": PROMPTS[i % len(PROMPTS)], "model": "bench", "thinking": False, "temperature": 0,
            "max_new_tokens": tokens, "api_name": "/chat", **kwargs}
    return args


def one(url: str, i: int, tokens: int, reference: dict[int, str], results: list[dict]) -> None:
    kind = KINDS[i % len(KINDS)]
    started = time.perf_counter()
    outcome: dict = {"kind": kind}
    try:
        c = client(url, i)
        if kind == "bad":
            changes, expected = BAD[(i // len(KINDS)) % len(BAD)]
            try:
                final = c.predict(**{**ask(url, i, tokens), **changes})
                text = json.dumps(final, ensure_ascii=False)
            except Exception as exc:  # refused before it ran (a number that is not one)
                text = str(exc)
            outcome["result"] = ("clear" if expected in text else "busy" if "Queue is full" in text
                                 else f"unclear: {text[:200]}")
        else:
            job = c.submit(**ask(url, i, tokens * 8 if kind == "stop" else tokens))  # a stop needs a long reply
            first = None
            if kind == "disconnect":
                time.sleep(0.05)
                job.cancel()
                outcome["result"] = "left"
            else:
                deadline = time.monotonic() + JOB_TIMEOUT_S
                while not job.done() and time.monotonic() < deadline:  # polled: a refused job ends at once
                    outputs = job.outputs()
                    if first is None and outputs and reply_text(outputs[-1]):
                        first = time.perf_counter() - started
                        if kind == "stop":
                            job.cancel()
                            break
                    time.sleep(0.02)
                if kind == "stop" and first is not None:
                    outcome["result"] = "stopped"
                else:
                    final = job.result(timeout=JOB_TIMEOUT_S)  # raises what the job met (busy, ...)
                    if kind == "stop":
                        outcome["result"] = "ended before the stop"
                        results.append(outcome)
                        return
                    text = reply_text(final)
                    outcome["ttft_s"] = first
                    outcome["result"] = "done" if text == reference[i % len(PROMPTS)] else "mismatch"
    except Exception as exc:
        outcome["result"] = "busy" if "Queue is full" in str(exc) else f"error: {type(exc).__name__}: {exc}"
    results.append(outcome)


def health_poller(url: str, stop: threading.Event, seen: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            if httpx.get(url + "health", timeout=10).json()["status"] == "ok":
                seen.append(time.perf_counter() - started)
        except httpx.HTTPError:
            pass
        stop.wait(0.5)


def wait_idle(url: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health = httpx.get(url + "health", timeout=10).json()
        if health["running"] == 0 and health["queue_depth"] == 0:
            return health
        time.sleep(0.5)
    raise RuntimeError("the app did not drain")


def round_of(url: str, clients: int, tokens: int, reference: dict[int, str]) -> dict:
    before = wait_idle(url)["process_rss_bytes"]
    results: list[dict] = []
    polls: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=health_poller, args=(url, stop, polls), daemon=True)
    poller.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(url, i, tokens, reference, results)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    seconds = time.perf_counter() - started
    stop.set()
    after = wait_idle(url)["process_rss_bytes"]
    ttfts = sorted(r["ttft_s"] for r in results if r.get("ttft_s") is not None)
    count = {name: sum(r["result"] == name for r in results)
             for name in ("done", "stopped", "ended before the stop", "left", "clear", "busy", "mismatch")}
    errors = [r["result"] for r in results if r["result"].startswith(("error", "unclear"))]
    return {
        "clients": clients, "seconds": round(seconds, 1), **count, "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "ttft_p50_s": round(statistics.median(ttfts), 3) if ttfts else None,
        "ttft_p95_s": round(ttfts[min(len(ttfts) - 1, int(0.95 * len(ttfts)))], 3) if ttfts else None,
        "health_answers": len(polls), "health_slowest_s": round(max(polls), 3) if polls else None,
        "rss_before_mib": round(before / 2**20), "rss_after_mib": round(after / 2**20),
        "rss_growth_mib": round((after - before) / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--queue-size", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = build_checkpoint("qwen3", tmp / "bench")
        catalog = write_catalog(tmp / "bench.toml", {"bench": {"source": folder, "tasks": ["chat", "thinking"]}})
        with AppProcess(catalog, tmp / "app.log", "--device", args.device, "--queue-size", str(args.queue_size)) as app:
            reference = {k: reply_text(client(app.url, 1000 + k).predict(**ask(app.url, k, args.tokens)))
                         for k in range(len(PROMPTS))}
            print(json.dumps({"setup": {"device": args.device, "queue_size": args.queue_size, "tokens": args.tokens,
                                        "mix": KINDS}}))
            for clients in args.clients:
                print(json.dumps(round_of(app.url, clients, args.tokens, reference)), flush=True)


if __name__ == "__main__":
    main()
