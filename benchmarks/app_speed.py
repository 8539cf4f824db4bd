"""How fast the app is, against raw transformers on the same model in the same run.

Prints:
- start-up: seconds from process start until the UI is served (no model loaded);
- first request (includes loading the model) versus a second one, as a client sees them;
- decode speed: tokens/s streamed through the app's `/chat` versus `model.generate`
  in this process, same checkpoint, same greedy settings, median of several runs.

    python benchmarks/app_speed.py [--tokens 256] [--runs 5] [--arch qwen3] [--device cpu]
      [--shape qwen3-0.6b]   # random weights with a real catalogue model's shape

A tiny random-weight checkpoint is built locally; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from gradio_client import Client  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.launch import AppProcess  # noqa: E402
from devtools.tiny import build_checkpoint, real_shape  # noqa: E402

PROMPT = "Write a long story about a lighthouse keeper."


class RawGenerate:
    """Plain `model.generate` with the chat template, greedy, bf16: the baseline."""

    def __init__(self, folder: Path, tokens: int, device: str):
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, device_map=device).eval()
        prompt = self.tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                                    add_generation_prompt=True, enable_thinking=False)
        self.inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        self.tokens, self.device = tokens, device
        self.run()  # warm-up

    def run(self) -> float:
        """tokens/s of one call."""
        if self.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**self.inputs, do_sample=False, max_new_tokens=self.tokens,
                                      min_new_tokens=self.tokens)
        if self.device == "cuda":
            torch.cuda.synchronize()
        return (out.shape[1] - self.inputs["input_ids"].shape[1]) / (time.perf_counter() - start)


def chat_once(url: str, tokens: int) -> tuple[float, float, int, float]:
    """(seconds to first text, total seconds, tokens, server-side tok/s) for one /chat call, fresh client."""
    client = Client(url, verbose=False)
    start = time.perf_counter()
    first = None
    job = client.submit(message=PROMPT, model="bench", thinking=False, temperature=0, max_new_tokens=tokens,
                        api_name="/chat")
    for update in job:
        if first is None and any(m["content"] for m in update):
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    final = job.result()
    metrics = next(m["content"] for m in final if (m.get("metadata") or {}).get("id") == "metrics")
    count = int(metrics.split(" tokens")[0].split("· ")[-1])
    server_speed = float(metrics.split(" tok/s")[0].split("· ")[-1])
    return first or total, total, count, server_speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--arch", default="qwen3")
    parser.add_argument("--shape", help="catalogue key whose architecture the random model copies")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        overrides = real_shape(args.shape) if args.shape else {}
        folder = build_checkpoint(args.arch, tmp / "bench", **overrides)
        catalog = write_catalog(tmp / "bench.toml", {"bench": {"source": folder, "tasks": ["chat", "thinking"]}})
        params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(folder).parameters())
        print(f"model: random-weight {args.arch}{' shaped like ' + args.shape if args.shape else ''}, "
              f"{params / 1e6:.1f} M parameters, device {args.device}, {args.tokens} new tokens, greedy")

        startups = []
        for _ in range(3):
            with AppProcess(catalog, tmp / "startup.log", "--device", args.device) as app:
                startups.append(app.ready_s)
        print(f"start-up to UI ready: median {statistics.median(startups):.2f} s "
              f"(runs: {', '.join(f'{s:.2f}' for s in startups)})")

        with AppProcess(catalog, tmp / "app.log", "--device", args.device) as app:
            first_ttft, first_total, *_ = chat_once(app.url, args.tokens)
            second_ttft, second_total, *_ = chat_once(app.url, args.tokens)
            print(f"first request (loads the model): {first_ttft:.2f} s to first text, {first_total:.2f} s total")
            print(f"second request:                  {second_ttft:.2f} s to first text, {second_total:.2f} s total")
            # Baseline and app runs alternate, so both see the same machine (a 2-core CI box
            # drifts by 20% over a minute); the app sits idle while the baseline runs.
            baseline = RawGenerate(folder, args.tokens, args.device)
            raw_speeds, app_speeds, decode_speeds, server_speeds = [], [], [], []
            for _ in range(args.runs):
                raw_speeds.append(baseline.run())
                ttft, total, count, server = chat_once(app.url, args.tokens)
                app_speeds.append(count / total)
                decode_speeds.append(count / (total - ttft))
                server_speeds.append(server)
        raw = statistics.median(raw_speeds)

        def report(label: str, speeds: list[float]) -> None:
            median = statistics.median(speeds)
            runs = ", ".join(f"{s:.0f}" for s in speeds)
            print(f"{label:<44} median {median:7.1f} tok/s  ratio to raw {median / raw:.2f}  (runs: {runs})")

        report("raw model.generate (this process)", raw_speeds)
        report("app /chat, client clock, whole request", app_speeds)
        report("app /chat, client clock, after first text", decode_speeds)
        report("app /chat, server clock (metrics line)", server_speeds)
        print("goal: ratio >= 0.90")


if __name__ == "__main__":
    main()
