"""What an image or a video costs a Qwen-VL model: load time, then time to first token against a text-only prompt.

A random-weight Qwen-VL checkpoint of each family is built locally (the tiny one by default) and
served by the app's own registry and engine. For each family it prints one JSON object per line:
- `load_s`: the first request's wait for the model to load (the registry's real loader);
- `text_ttft_s`: time to first token for a text-only question: the baseline, same model, same run;
- one object per input (`image@0.25MP`, `image@1MP`, `image@4MP` of a 2400 x 1800 photo-sized image,
  and the shipped 4-second clip at 2 frames a second): its visual tokens, `prepare_s` (decoding,
  qwen-vl-utils' resize and the processor: the prompt alone), `ttft_s` (request to first token,
  median of `--repeat`) and `ratio` = ttft_s / text_ttft_s.

    python benchmarks/vision.py                   # both families, tiny, CPU: about a minute
    python benchmarks/vision.py --arch qwen3_vl --device cuda

Nothing is downloaded; the example clip is assets/examples/clip.mp4.
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

from PIL import Image  # noqa: E402

from devtools.catalogs import write_catalog  # noqa: E402
from devtools.tiny import VISION_ARCHS, build_checkpoint  # noqa: E402
from playground.backends.prompt import build_prompt, grid_of  # noqa: E402
from playground.catalog import Sampling, load_catalog  # noqa: E402
from playground.devices import default_device  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.loading import TransformersLoader  # noqa: E402
from playground.registry import Registry  # noqa: E402
from playground.requests import Metrics, Request  # noqa: E402
from playground.settings import Settings  # noqa: E402

MODEL = "bench-vl"
CLIP = Path(__file__).resolve().parent.parent / "assets" / "examples" / "clip.mp4"


def ask(engine: Engine, content: list | str, tokens: int) -> Metrics:
    """The final metrics of one greedy request."""
    request = Request(MODEL, [{"role": "user", "content": content}], Sampling(temperature=0, max_new_tokens=tokens))
    metrics = [event for event in engine.stream(request) if isinstance(event, Metrics)]
    return metrics[-1]


def run(arch: str, device: str, tokens: int, repeat: int, tmp: Path) -> None:
    folder = build_checkpoint(arch, tmp / arch, max_position_embeddings=32768)  # room for a 4-megapixel image
    catalog_path = write_catalog(tmp / f"{arch}.toml", {MODEL: {"source": folder, "tasks": ["vision"]}})
    registry = Registry(load_catalog(catalog_path), TransformersLoader(Settings(device=device)), keep_alive_s=0)
    engine = Engine(registry)
    start = time.perf_counter()
    with registry.acquire(MODEL) as lease:  # the load a first request waits for
        processor, precision = lease.loaded.processor, lease.precision
    load_s = time.perf_counter() - start
    ask(engine, "Hello", tokens)  # warm-up
    question = {"type": "text", "text": "What is in this picture?"}
    text_ttft = statistics.median(ask(engine, "What is in this picture?", tokens).time_to_first_token_s
                                  for _ in range(repeat))
    print(json.dumps({"arch": arch, "device": device, "precision": str(precision), "load_s": round(load_s, 2),
                      "text_ttft_s": round(text_ttft, 3)}), flush=True)
    photo = tmp / "photo.png"
    Image.effect_noise((2400, 1800), 40).convert("RGB").save(photo)
    inputs = {f"image@{mp:g}MP": {"type": "image", "image": str(photo), "max_pixels": int(mp * 1e6)}
              for mp in (0.25, 1, 4)}
    inputs["video@2fps"] = {"type": "video", "video": str(CLIP), "fps": 2.0, "max_frames": 32,
                            "max_pixels": 1_000_000}
    for name, part in inputs.items():
        messages = [{"role": "user", "content": [part, question]}]
        prepare = []
        for _ in range(repeat):
            begin = time.perf_counter()
            prompt = build_prompt(processor, messages, None, budget=1_000_000, grid=grid_of(processor))
            prepare.append(time.perf_counter() - begin)
        pad = "<|video_pad|>" if part["type"] == "video" else "<|image_pad|>"
        visual = prompt.input_ids.count(processor.tokenizer.convert_tokens_to_ids(pad))
        ttft = statistics.median(ask(engine, [part, question], tokens).time_to_first_token_s
                                 for _ in range(repeat))
        print(json.dumps({"arch": arch, "input": name, "visual_tokens": visual, "prompt_tokens": prompt.tokens,
                          "prepare_s": round(statistics.median(prepare), 3), "ttft_s": round(ttft, 3),
                          "ratio": round(ttft / text_ttft, 1)}), flush=True)
    registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=VISION_ARCHS, action="append", help="default: both families")
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--tokens", type=int, default=4, help="new tokens per request")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians are reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.arch or VISION_ARCHS:
            run(arch, args.device, args.tokens, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
