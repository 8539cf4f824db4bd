"""Copy as code: the script that reproduces a request the app ran, written as a learner writes it in a notebook.

Built from the same `Request` the app sent and from how it ran (`Ran`: the precision the registry
loaded the model at, the 16-bit dtype of the app's device, turns left out to fit the window, a tool
loop around it), so what a learner takes home is what they just saw run. `snippet` picks:

- A model this machine runs gets transformers code (`transformers_snippet`): AutoTokenizer (for a
  vision model AutoProcessor, and qwen-vl-utils' `process_vision_info` to resize images and video
  frames, as the app does; a video's frames are read with PyAV, as `playground.media` reads them),
  the model loaded at the app's dtype and with the same bitsandbytes config
  (`playground.loading.quantization_config`) at int8 / NF4, the chat template with the same options
  (`enable_thinking`), Qwen's thinking-budget recipe where a budget was set, `model.generate`, and the
  thinking and the answer printed apart, split at `</think>` the way the app shows them.
  A greedy reply (temperature 0) comes out as the app's serial decoder wrote it. What can differ is
  said in the script itself: a sampled reply (the app draws with a generator of its own per request,
  so a seed holds on a busy server; `generate` draws with torch's global one) and a tool loop (the
  Math tab's Python blocks: the script makes the first step). On CUDA the app batches requests
  (continuous batching), whose kernels may round differently from `generate`'s, so a long greedy
  reply can part from it late; the budget recipe goes on from the cut with a fresh `generate`, which
  may round a 16-bit model's numbers a little differently from the app's single pass.
- A model on another server gets `openai` client code against that server (`openai_snippet`), images
  and videos sent as data: URLs read from the files.

Nothing here runs a model or knows about Gradio; the words around the script are the UI's.
"""

from __future__ import annotations

import pprint
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.catalog import ModelSpec, Precision
from playground.media import DEFAULT_FPS, DEFAULT_MAX_FRAMES
from playground.requests import Message, Request, message_text
from playground.tasks.thinking import CLOSE, EARLY_STOP, OPEN
from playground.tasks.visual_tokens import Grid, frame_max_pixels

WIDTH = 100  # where the script's long lines wrap


@dataclass(frozen=True)
class Ran:
    """How the app ran a request, beyond what the request says."""

    precision: Precision | None = None  # what the registry loaded the model at; None: not known (the catalogue's)
    half: str = "bfloat16"  # torch's 16-bit dtype on the app's device ("float16" on older GPUs and Apple's)
    dropped: int = 0  # the oldest messages left out to fit the context window
    tool_loop: bool = False  # a task's loop ran around it (the Math tab runs the Python blocks the model writes)


def snippet(spec: ModelSpec, request: Request, ran: Ran | None = None) -> str:
    """The script for `request` as the app ran it: openai client code for a remote model, else transformers."""
    ran = ran or Ran()
    if spec.remote is not None:
        return openai_snippet(spec, request, ran)
    return transformers_snippet(spec, request, ran)


def kept(messages: Sequence[Message], dropped: int) -> list[Message]:
    """The messages the model was given: system messages, and the rest without the `dropped` oldest."""
    system = [m for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    return [*system, *rest[dropped:]]


def _source(value: Any, indent: int = 0) -> str:
    text = pprint.pformat(value, width=WIDTH - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


# --- a remote model: the openai client ----------------------------------------------------------------------------


def openai_snippet(spec: ModelSpec, request: Request, ran: Ran | None = None) -> str:
    """Python source that asks `spec`'s server for the reply `request` asked for, as the app did."""
    from playground.backends.remote import extra_sampling, standard_sampling

    ran = ran or Ran()
    remote = spec.remote
    assert remote is not None
    key = f"os.environ[{remote.api_key_env!r}]" if remote.api_key_env else '"EMPTY"'
    extra = extra_sampling(request.sampling)
    if spec.hybrid and request.thinking is not None and request.completion is None:
        extra["chat_template_kwargs"] = {"enable_thinking": bool(request.thinking)}
    messages = [_api_message(m) for m in kept(request.messages, ran.dropped)]
    media = any(isinstance(m["content"], list) for m in messages)
    lines = ["# pip install openai", *(["import base64", "import mimetypes"] if media else []), "import os", "",
             "from openai import OpenAI", ""]
    if media:
        lines += ["", "def data_url(path):",
                  '    """A file as a data: URL (the app sends images scaled down to Max pixels, as PNG)."""',
                  '    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"',
                  '    with open(path, "rb") as file:',
                  '        return f"data:{kind};base64," + base64.b64encode(file.read()).decode()', "", ""]
    lines.append(f"client = OpenAI(base_url={remote.base_url!r}, api_key={key})")
    lines += _tool_loop_note(ran)
    arguments = [f"model={remote.model!r}"]
    if request.completion is not None:
        arguments.append(f"prompt={request.completion!r}")
    else:
        lines += _dropped_note(ran)
        lines.append(f"messages = {_source(messages)}")
        arguments.append("messages=messages")
    arguments += [f"{name}={value!r}" for name, value in standard_sampling(request.sampling).items()]
    if extra:
        arguments.append(f"extra_body={extra!r}")
    call = "client.completions.create" if request.completion is not None else "client.chat.completions.create"
    lines += [f"reply = {call}(", *(f"    {argument}," for argument in arguments), ")"]
    if request.completion is not None:
        lines.append("print(reply.choices[0].text)")
    else:
        lines += ["message = reply.choices[0].message",
                  'print(getattr(message, "reasoning_content", None) or "")  # the thinking, if split',
                  "print(message.content)"]
    return "\n".join(lines) + "\n"


class Source(str):
    """Code in a value written out as source (`pprint` writes its repr): a call, where a value would be a string."""

    def __repr__(self) -> str:
        return str(self)


def _api_message(message: Message) -> dict[str, Any]:
    """A message in the chat API's form, its files read when the script runs (`data_url`)."""
    content = message.get("content")
    if isinstance(content, str) or not any(p.get("type") in ("image", "video") for p in content or ()):
        return {"role": message["role"], "content": message_text(message)}
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind in ("image", "video"):
            parts.append({"type": f"{kind}_url", f"{kind}_url": {"url": Source(f"data_url({_file(part[kind])!r})")}})
    return {"role": message["role"], "content": parts}


def _file(value: Any) -> str:
    """A file the request named, as the script names it (a picture the app held in memory has no file)."""
    return str(value) if isinstance(value, str | Path) else "your-image.png"


# --- a model this machine runs: transformers ----------------------------------------------------------------------


def transformers_snippet(spec: ModelSpec, request: Request, ran: Ran | None = None) -> str:
    """Python source that loads the model as the app did and generates the reply `request` asked for."""
    ran = ran or Ran()
    kinds = {p.get("type") for m in kept(request.messages, ran.dropped) if isinstance(m.get("content"), list)
             for p in m["content"]} if spec.is_vision and request.completion is None else set()
    vision, videos = bool(kinds & {"image", "video"}), "video" in kinds
    precision = ran.precision or request.precision or spec.precision
    lines = [*_header(spec, precision, vision, videos), ""]
    lines += _load(spec, precision, ran.half)
    lines.append("")
    lines += _tool_loop_note(ran)
    lines += _inputs(spec, request, ran, vision)
    lines.append("")
    lines += _generate(spec, request, vision)
    lines.append("")
    lines += _show(spec, request, vision)
    return "\n".join(lines) + "\n"


def _header(spec: ModelSpec, precision: Precision, vision: bool, videos: bool) -> list[str]:
    packages = ["transformers", "accelerate", "torch"]
    if spec.is_vision:
        packages += ["torchvision", "qwen-vl-utils"]
    if precision in (Precision.INT8, Precision.NF4):
        packages.append("bitsandbytes")
    auto = "AutoModelForImageTextToText, AutoProcessor" if spec.is_vision else "AutoModelForCausalLM, AutoTokenizer"
    if precision in (Precision.INT8, Precision.NF4):
        auto += ", BitsAndBytesConfig"
    lines = [f"# pip install {' '.join(packages)}", *(["import av"] if videos else []), "import torch"]
    if vision:
        lines.append("from qwen_vl_utils import process_vision_info")
    if videos:
        lines.append("from qwen_vl_utils.vision_process import smart_nframes")
    return [*lines, f"from transformers import {auto}"]


def quantization_source(precision: Precision, half: str = "bfloat16") -> str | None:
    """The bitsandbytes config `playground.loading.quantization_config` gives `precision`, as source."""
    if precision is Precision.INT8:
        return "BitsAndBytesConfig(load_in_8bit=True)"
    if precision is Precision.NF4:
        return ('BitsAndBytesConfig(\n        load_in_4bit=True,\n        bnb_4bit_quant_type="nf4",\n'
                f"        bnb_4bit_use_double_quant=True,\n        bnb_4bit_compute_dtype=torch.{half},\n    )")
    return None


def _load(spec: ModelSpec, precision: Precision, half: str) -> list[str]:
    model_class = "AutoModelForImageTextToText" if spec.is_vision else "AutoModelForCausalLM"
    processor = "processor = AutoProcessor" if spec.is_vision else "tokenizer = AutoTokenizer"
    dtype = "torch.float32" if precision is Precision.FP32 else f"torch.{half}"
    lines = [f"model_id = {spec.source!r}", f"{processor}.from_pretrained(model_id)",
             f"model = {model_class}.from_pretrained(",
             "    model_id,",
             f"    dtype={dtype},  # the app ran it at {precision}",
             '    device_map="auto",']
    quantization = quantization_source(precision, half)
    if quantization is not None:
        lines.append(f"    quantization_config={quantization},")
    return [*lines, ")"]


def _tool_loop_note(ran: Ran) -> list[str]:
    if not ran.tool_loop:
        return []
    return ["# The app ran each ```python block the model wrote (in a sandbox) and let the model go on from its",
            "# output (tool-integrated reasoning). This script makes the first step: its text is the app's up to",
            "# the end of the first block; after that, the app's reply has the block's output in it.", ""]


def _dropped_note(ran: Ran) -> list[str]:
    if not ran.dropped:
        return []
    return [f"# The app left out the {ran.dropped} oldest messages to fit the model's context window."]


def _thinking_switch(spec: ModelSpec, request: Request) -> str:
    """The template option the app passed: only hybrid models have the switch."""
    return f", enable_thinking={bool(request.thinking)}" if spec.hybrid and request.thinking is not None else ""


def _inputs(spec: ModelSpec, request: Request, ran: Ran, vision: bool) -> list[str]:
    tool = "processor" if spec.is_vision else "tokenizer"
    if request.completion is not None:  # raw text to go on from (fill in the middle): no template
        return [f"prompt = {request.completion!r}",
                f'inputs = {tool}(prompt, return_tensors="pt").to(model.device)']
    switch = _thinking_switch(spec, request)
    messages = kept(request.messages, ran.dropped)
    lines = _dropped_note(ran)
    if not vision:
        plain = [{"role": m["role"], "content": message_text(m)} for m in messages]
        return [*lines, f"messages = {_source(plain)}",
                f"inputs = {tool}.apply_chat_template(",
                f'    messages, add_generation_prompt=True{switch}, return_dict=True, return_tensors="pt"',
                ").to(model.device)"]
    grid = Grid.of(spec.family)
    clips: list[tuple[str, Any]] = []  # each video: its frames' name in the script, its part
    parts = [{"role": m["role"], "content": _vision_content(m.get("content"), grid, clips)} for m in messages]
    files = "# The files you sent, where the app keeps them: point these at your own copies."
    if clips:
        lines += [*READ_FRAMES, files, *(_read(name, part) for name, part in clips)]
    else:
        lines.append(files)
    lines += [f"messages = {_source(parts)}",
              f"prompt = processor.apply_chat_template(messages, add_generation_prompt=True{switch}, tokenize=False)",
              f"# qwen-vl-utils resizes the images and frames (sides in multiples of {grid.factor} pixels, within",
              "# max_pixels); the processor then takes them as they are (do_resize=False), as the app does."]
    if not clips:
        return [*lines, f"images, videos = process_vision_info(messages, image_patch_size={grid.patch_size})",
                "inputs = processor(",
                '    text=[prompt], images=images, videos=videos, do_resize=False, return_tensors="pt"',
                ").to(model.device)"]
    return [*lines,
            "images, videos, video_kwargs = process_vision_info(",
            f"    messages, return_video_kwargs=True, return_video_metadata=True, image_patch_size={grid.patch_size}",
            ")",
            "videos, video_metadata = map(list, zip(*videos))  # (frames, metadata) for each video",
            "inputs = processor(",
            "    text=[prompt], images=images, videos=videos, video_metadata=video_metadata, do_resize=False,",
            '    return_tensors="pt", **video_kwargs,',
            ").to(model.device)"]


# Reads a video as `playground.media.read_video` does: qwen-vl-utils reads a video file with torchcodec or
# decord if installed, else with torchvision's read_video, which recent torchvision no longer has.
READ_FRAMES = [
    "# The app reads a video's frames itself, with PyAV, and gives qwen-vl-utils the list, as this script does:",
    "# qwen-vl-utils' own readers need torchcodec or decord, or an older torchvision.",
    "def read_frames(path, fps, max_frames):",
    '    """The frames the model sees: as many as qwen-vl-utils takes at `fps` (at most `max_frames`), spread',
    '    evenly over the video, first and last included; and how many of them there are per second of video."""',
    "    with av.open(path) as container:",
    "        stream = container.streams.video[0]",
    "        rate = float(stream.average_rate or stream.guessed_rate)",
    "        if stream.duration is not None and stream.time_base is not None:",
    "            seconds = float(stream.duration * stream.time_base)",
    "        else:",
    "            seconds = (container.duration or 0) / av.time_base",
    "        total = stream.frames or round(seconds * rate)",
    '        count = smart_nframes({"fps": fps, "max_frames": max_frames}, total_frames=total, video_fps=rate)',
    "        wanted = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})",
    "        frames = []",
    "        for index, frame in enumerate(container.decode(stream)):",
    "            if index in wanted:",
    "                frames.append(frame.to_image())",
    "            if index >= wanted[-1]:",
    "                break",
    "    frames += frames[-1:] * (count - len(frames))  # a video with fewer frames than it said",
    "    return frames, count / total * rate",
    "",
    "",
]


def _read(name: str, part: Any) -> str:
    fps, most = part.get("fps", DEFAULT_FPS), part.get("max_frames", DEFAULT_MAX_FRAMES)
    return f"{name}, {name}_fps = read_frames({_file(part['video'])!r}, fps={fps}, max_frames={most})"


def _vision_content(content: Any, grid: Grid, clips: list[tuple[str, Any]]) -> Any:
    """A vision message's parts as the app gives them to qwen-vl-utils: an image as its file, a video as the frames
    `READ_FRAMES` reads (named in the script; the part is added to `clips`), with the options the app gave."""
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type")
        if kind == "image":
            options = {k: v for k, v in part.items() if k not in ("type", "image")}
            out.append({"type": "image", "image": _file(part["image"]), **options})
        elif kind == "video":
            name = f"clip_{len(clips) + 1}"
            clips.append((name, part))
            options = {k: v for k, v in part.items() if k not in ("type", "video", "fps", "max_frames")}
            if "max_pixels" in options:  # raised to what qwen-vl-utils takes for a frame, as the app does
                options["max_pixels"] = frame_max_pixels(options["max_pixels"], grid)
            fps = Source(f"{name}_fps")
            out.append({"type": "video", "video": Source(name), "sample_fps": fps, "raw_fps": fps, **options})
        elif kind == "text":
            out.append({"type": "text", "text": part.get("text", "")})
    return out


def _sampling(request: Request) -> str:
    s = request.sampling
    if s.greedy:
        options = "do_sample=False"
    else:
        options = f"do_sample=True, temperature={s.temperature}, top_p={s.top_p}, top_k={s.top_k}"
        if s.min_p:
            options += f", min_p={s.min_p}"
    if s.repetition_penalty != 1.0:
        options += f", repetition_penalty={s.repetition_penalty}"
    return options


def _thinks(spec: ModelSpec, request: Request) -> bool:
    """The model thinks this time (as `LocalBackend` decides): hybrid with the switch on, or always."""
    if request.completion is not None or not spec.thinks:
        return False
    return not spec.hybrid or request.thinking is not False


def _generate(spec: ModelSpec, request: Request, vision: bool) -> list[str]:
    s = request.sampling
    options = _sampling(request)
    lines = []
    if not s.greedy:
        lines += ["# Sampled: the app draws each token with a random generator of its own for each request (so a",
                  "# seed holds however busy the app is), not with torch's global one as generate does, so this",
                  "# script samples a different reply than the app did; at temperature 0 (greedy) both agree."]
        if s.seed is not None:
            lines.append(f"torch.manual_seed({s.seed})")
    budget = request.thinking_budget
    if budget is None or not _thinks(spec, request):
        return [*lines, f"output = model.generate(**inputs, max_new_tokens={s.max_new_tokens}, {options})",
                'new_tokens = output[0, inputs["input_ids"].shape[1]:]']
    tokenizer = "processor.tokenizer" if spec.is_vision else "tokenizer"
    # A hybrid model writes <think> itself, which the budget does not count; a thinking-only model's template
    # opened it, and every token counts.
    first = "budget + 1" if spec.hybrid else "budget"
    still_thinking = "think_open in thought and think_close not in thought" if spec.hybrid \
        else "think_close not in thought"
    lines += [f"# Qwen's thinking budget: let the model think for at most {budget} tokens; if it is still thinking",
              "# then, append the early-stop sentence (it ends with </think>) and let the model answer.",
              f"budget = {budget}",
              f"think_open, think_close = {tokenizer}.convert_tokens_to_ids([{OPEN!r}, {CLOSE!r}])",
              f"early_stop = {EARLY_STOP!r}",
              "ends = model.generation_config.eos_token_id  # the end-of-turn tokens",
              "ends = ends if isinstance(ends, list) else [ends]",
              'prompt_length = inputs["input_ids"].shape[1]']
    stop = [f'stop_ids = {tokenizer}.encode(early_stop, add_special_tokens=False, return_tensors="pt")',
            "# (within max new tokens, which count these too)",
            f"output = torch.cat([output, stop_ids.to(output.device)], dim=-1)[:, :prompt_length + {s.max_new_tokens}]"]
    answer = [f"left = {s.max_new_tokens} - (output.shape[1] - prompt_length)",
              "if left > 0:",
              '    going_on = {**inputs, "input_ids": output, "attention_mask": torch.ones_like(output)}',
              f"    output = model.generate(**going_on, max_new_tokens=left, {options})"]
    if spec.hybrid or budget > 0:
        lines += [f"output = model.generate(**inputs, max_new_tokens={first}, {options})",
                  "thought = output[0, prompt_length:].tolist()",
                  f"if len(thought) == {first} and thought[-1] not in ends:  # it has not ended its turn: go on",
                  f"    if {still_thinking}:",
                  *(" " * 8 + line for line in stop),
                  *(" " * 4 + line for line in answer)]
    else:  # a budget of 0: no thinking at all
        lines += ['output = inputs["input_ids"]', *stop, *answer]
    return [*lines, "new_tokens = output[0, prompt_length:]"]


def _show(spec: ModelSpec, request: Request, vision: bool) -> list[str]:
    tool = "processor" if spec.is_vision else "tokenizer"
    lines = [f"text = {tool}.decode(new_tokens, skip_special_tokens=True)"]
    if request.completion is not None:
        return [*lines, "print(text)"]
    if not _thinks(spec, request):
        return [*lines, "print(text.lstrip())  # the answer (the app leaves out the whitespace before it)"]
    if spec.hybrid:
        lines += ["# Qwen3 thinks first, between <think> and </think>, then answers.",
                  'thinking, answer = "", text.lstrip()',
                  f"if answer.startswith({OPEN!r}):",
                  f"    thinking, _, answer = answer.removeprefix({OPEN!r}).partition({CLOSE!r})"]
    else:
        lines += ["# The template opened <think> itself: the thinking comes first and ends at </think>.",
                  f"thinking, _, answer = text.partition({CLOSE!r})"]
    return [*lines, "# As the app shows them: without the newlines around the thinking and the whitespace before",
            "# the answer.",
            'print("=== thinking ===")',
            'print(thinking.lstrip("\\n").rstrip())',
            'print("=== answer ===")',
            "print(answer.lstrip())"]
