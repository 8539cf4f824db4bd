"""Copy as code without a model: what the script says for each way a request ran, the store of last requests
that `tabs.reply` fills, and the Copy-as-code handler. (The scripts are run against tiny checkpoints in
tests/integration/test_snippets.py.)"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import torch
from transformers import BitsAndBytesConfig

from playground.catalog import Precision, Sampling, parse_catalog
from playground.engine import Engine
from playground.loading import quantization_config
from playground.registry import Registry
from playground.requests import Request
from playground.snippets import Ran, kept, quantization_source, snippet
from tabs.copy_code import show_code
from tabs.last_request import LAST, LastRequests
from tabs.reply import Stops, many_key, stream_many, stream_reply
from tests.fakes import FakeLoader, scripted_registry

HI = [{"role": "user", "content": "Hi"}]
CATALOG = parse_catalog({"models": {
    "qwen3": {"source": "./Qwen3-8B", "tasks": ["chat", "thinking"], "context_length": 32768},
    "qwen3-thinking": {"source": "./Qwen3-4B-Thinking-2507", "tasks": ["chat", "thinking"],
                       "thinking_mode": "always", "context_length": 32768},
    "vl": {"source": "./Qwen2.5-VL-3B-Instruct", "family": "qwen2.5-vl", "tasks": ["vision"],
           "context_length": 32768},
    "big": {"backend": "openai", "base_url": "http://server:8000/v1", "model": "qwen3", "family": "qwen3",
            "context_length": 32768, "tasks": ["chat", "thinking", "vision"]},
}})


def code_for(model: str, request: Request, ran: Ran | None = None) -> str:
    code = snippet(CATALOG.get(model), request, ran)
    compile(code, "snippet.py", "exec")  # every script is valid Python
    return code


@pytest.mark.parametrize("precision", [Precision.INT8, Precision.NF4])
@pytest.mark.parametrize("half", ["bfloat16", "float16"])
def test_the_quantization_config_is_the_loaders(precision: Precision, half: str) -> None:
    source = quantization_source(precision, half)
    written = eval(source, {"BitsAndBytesConfig": BitsAndBytesConfig, "torch": torch})  # the script's expression
    assert written.to_dict() == quantization_config(precision, getattr(torch, half)).to_dict()


@pytest.mark.parametrize(("precision", "half", "dtype", "quantized"), [
    pytest.param(Precision.FP32, "bfloat16", "torch.float32", None, id="fp32"),
    pytest.param(Precision.BF16, "bfloat16", "torch.bfloat16", None, id="bf16"),
    pytest.param(Precision.BF16, "float16", "torch.float16", None, id="bf16_on_a_gpu_without_it"),
    pytest.param(Precision.INT8, "bfloat16", "torch.bfloat16", "load_in_8bit=True", id="int8"),
    pytest.param(Precision.NF4, "bfloat16", "torch.bfloat16", "load_in_4bit=True", id="nf4"),
])
def test_the_model_loads_at_the_precision_the_app_ran(precision, half, dtype, quantized) -> None:
    code = code_for("qwen3", Request("qwen3", HI, thinking=False), Ran(precision, half))
    assert f"dtype={dtype},  # the app ran it at {precision}" in code
    assert ("bitsandbytes" in code.splitlines()[0]) is (quantized is not None)
    if quantized:
        assert "quantization_config=BitsAndBytesConfig(" in code and quantized in code
    else:
        assert "quantization_config" not in code


def test_without_a_known_precision_the_catalogues_is_used() -> None:
    assert "# the app ran it at bf16" in code_for("qwen3", Request("qwen3", HI))
    assert "# the app ran it at nf4" in code_for("qwen3", Request("qwen3", HI, precision=Precision.NF4))


def test_thinking_switch_split_and_budget() -> None:
    off = code_for("qwen3", Request("qwen3", HI, thinking=False, thinking_budget=64))
    assert "enable_thinking=False" in off and "budget" not in off and "=== thinking ===" not in off
    on = code_for("qwen3", Request("qwen3", HI, thinking=True, thinking_budget=64))
    assert "enable_thinking=True" in on and "budget = 64" in on and "max_new_tokens=budget + 1" in on
    assert "answer.startswith('<think>')" in on and "=== thinking ===" in on
    always = code_for("qwen3-thinking", Request("qwen3-thinking", HI, thinking_budget=64))
    assert "enable_thinking" not in always and "max_new_tokens=budget," in always
    assert "thinking, _, answer = text.partition('</think>')" in always  # the template opened <think>
    nothing = code_for("qwen3-thinking", Request("qwen3-thinking", HI, thinking_budget=0))
    assert 'output = inputs["input_ids"]' in nothing and "max_new_tokens=budget" not in nothing


def test_sampling_says_where_the_app_differs() -> None:
    sampled = code_for("qwen3", Request("qwen3", HI, Sampling(temperature=0.6, top_p=0.95, top_k=20, min_p=0.05,
                                                               repetition_penalty=1.1, seed=7), thinking=True))
    assert "torch.manual_seed(7)" in sampled and "samples a different reply than the app did" in sampled
    assert "do_sample=True, temperature=0.6, top_p=0.95, top_k=20, min_p=0.05, repetition_penalty=1.1" in sampled
    greedy = code_for("qwen3", Request("qwen3", HI, Sampling(temperature=0, seed=7), thinking=True))
    assert "do_sample=False" in greedy and "manual_seed" not in greedy and "different reply" not in greedy


def test_the_messages_are_the_ones_the_model_was_given() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one"},
                {"role": "assistant", "content": "1"}, {"role": "user", "content": "two"}]
    assert kept(messages, 2) == [messages[0], messages[3]]
    code = code_for("qwen3", Request("qwen3", messages, thinking=False), Ran(dropped=2))
    assert "left out the 2 oldest messages" in code
    assert "'content': 'Be brief.'" in code and "'content': 'two'" in code and "'content': 'one'" not in code


def test_a_tool_loop_is_said() -> None:
    code = code_for("qwen3", Request("qwen3", HI), Ran(tool_loop=True))
    assert "This script makes the first step" in code
    assert "first step" not in code_for("qwen3", Request("qwen3", HI))


def test_vision_reads_the_files_with_qwen_vl_utils() -> None:
    image = {"type": "image", "image": "/data/cat.png", "max_pixels": 1_003_520}
    video = {"type": "video", "video": "/data/clip.mp4", "fps": 2.0, "max_frames": 32, "max_pixels": 1000}
    text = {"type": "text", "text": "What is this?"}
    code = code_for("vl", Request("vl", [{"role": "user", "content": [image, text]}]))
    assert "AutoModelForImageTextToText, AutoProcessor" in code and "qwen-vl-utils" in code.splitlines()[0]
    assert "process_vision_info(messages, image_patch_size=14)" in code and "do_resize=False" in code
    assert "'image': '/data/cat.png', 'max_pixels': 1003520" in code
    clip = code_for("vl", Request("vl", [{"role": "user", "content": [video, text]}]))
    assert "return_video_metadata=True" in clip and "video_metadata=video_metadata" in clip
    assert "'max_pixels': 1000," not in clip  # raised to qwen-vl-utils' floor for a frame, as the app does
    assert "clip_1, clip_1_fps = read_frames('/data/clip.mp4', fps=2.0, max_frames=32)" in clip
    assert "'video': clip_1," in clip and "'sample_fps': clip_1_fps," in clip and "import av" in clip


def test_a_remote_model_gets_the_openai_client_with_files_as_data_urls() -> None:
    image = {"type": "image", "image": "/data/cat.png", "max_pixels": 1_003_520}
    request = Request("big", [{"role": "user", "content": [image, {"type": "text", "text": "What?"}]}],
                      Sampling(temperature=0, max_new_tokens=64), thinking=False)
    code = code_for("big", request)
    assert "client = OpenAI(base_url='http://server:8000/v1'" in code
    assert "{'url': data_url('/data/cat.png')}" in code and "def data_url(path):" in code
    assert "'chat_template_kwargs': {'enable_thinking': False}" in code and "max_tokens=64" in code


# --- which request was last -------------------------------------------------------------------------------------


def test_the_store_keeps_the_latest_per_key_within_its_bound() -> None:
    store = LastRequests(limit=2)
    first, second = Request("qwen3", HI), Request("qwen3", [{"role": "user", "content": "Again"}])
    store.record(("a", "chat"), first, Ran())
    store.record(("a", "chat"), second, Ran(Precision.NF4))
    assert store.get(("a", "chat")).request is second and store.get(("a", "chat")).ran.precision is Precision.NF4
    store.record(("b", "chat"), first, Ran())
    store.get(("a", "chat"))
    store.record(("c", "chat"), first, Ran())  # the least recently recorded goes
    assert store.get(("a", "chat")) is None and store.get(("b", "chat")) and store.get(("c", "chat"))


def test_the_store_takes_records_from_many_threads() -> None:
    store = LastRequests(limit=50)

    def record(n: int) -> None:
        for i in range(200):
            store.record((f"s{n}-{i}", "chat"), Request("qwen3", HI), Ran())

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50


@pytest.fixture
def scripted(qwen3_tokenizer):
    registry, loader = scripted_registry(qwen3_tokenizer)
    yield Engine(registry), loader
    registry.close()


def test_a_streamed_reply_is_recorded_with_the_precision_it_ran_at(scripted) -> None:
    engine, loader = scripted
    loader.decoder("scripted-qwen3").enqueue("Hello there.")
    request = Request("scripted-qwen3", HI, Sampling(temperature=0), thinking=False, precision=Precision.INT8)
    replies = stream_reply(engine, request, Stops(), ("page-1", "chat"))
    next(replies)
    assert LAST.get(("page-1", "chat")).ran.precision is None  # recorded at once; how it ran, at the end
    *_, view = replies
    last = LAST.get(("page-1", "chat"))
    assert view.answer == "Hello there." and last.request.messages == HI
    assert last.ran == Ran(Precision.INT8) and last.request.model == "scripted-qwen3"


def test_columns_are_recorded_under_their_stop_keys(scripted) -> None:
    engine, _ = scripted
    requests = {side: Request("scripted-qwen3", HI, Sampling(temperature=0), thinking=side == "left")
                for side in ("left", "right")}
    list(stream_many(engine, requests, Stops(), "page-2", "thinking"))
    for side in ("left", "right"):
        assert LAST.get(many_key("page-2", "thinking", side)).request.thinking is (side == "left")


def test_a_tool_loop_around_the_request_is_recorded(scripted) -> None:
    engine, _ = scripted
    request = Request("scripted-qwen3", HI, Sampling(temperature=0))
    list(stream_reply(engine, request, Stops(), ("page-3", "math"), run=engine.stream))
    assert LAST.get(("page-3", "math")).ran.tool_loop


# --- the button ------------------------------------------------------------------------------------------------


def test_the_button_shows_the_sessions_last_request_or_says_there_is_none() -> None:
    engine = Engine(Registry(CATALOG, FakeLoader(1 << 30)))
    page = SimpleNamespace(session_hash="page-4", headers={})
    assert show_code(engine, "chat", request=page) == \
        "# Nothing was sent here yet: send a request, then show its code.\n"
    LAST.record(("page-4", "chat"), Request("qwen3", HI, thinking=False), Ran(Precision.NF4))
    code = show_code(engine, "chat", request=page)
    assert code.startswith("# The code for your last request (qwen3 at nf4): run it as a script or in a notebook.\n")
    assert "bnb_4bit_compute_dtype=torch.bfloat16" in code  # the CPU's 16-bit dtype
    assert show_code(engine, "vision", request=page).startswith("# Nothing was sent")  # another slot: nothing yet
    assert show_code(engine, "chat", request=SimpleNamespace(session_hash="page-5", headers={})).startswith("# Nothing")
    LAST.record(("page-4", "chat"), Request("big", HI), Ran())
    assert show_code(engine, "chat", request=page).startswith("# The code for your last request (big, on its server)")


def test_a_column_shows_its_own_request(scripted) -> None:
    engine, _ = scripted
    page = SimpleNamespace(session_hash="page-6", headers={})
    requests = {side: Request("scripted-qwen3", HI, Sampling(temperature=0), thinking=side == "left")
                for side in ("left", "right")}
    list(stream_many(engine, requests, Stops(), "page-6", "thinking"))
    assert "enable_thinking=True" in show_code(engine, "thinking", "left", page)
    assert "enable_thinking=False" in show_code(engine, "thinking", "right", page)
    assert show_code(engine, "thinking", request=page).startswith("# Nothing")  # the slot without a column
