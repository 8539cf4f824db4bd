"""The real loading, registry and generation code on tiny random-weight Qwen checkpoints."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import huggingface_hub
import pytest
import torch
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route

from devtools.catalogs import write_catalog
from devtools.launch import LoopbackServer, free_port
from playground.backends.prompt import build_prompt
from playground.catalog import Sampling, load_catalog
from playground.engine import Engine
from playground.errors import InvalidRequestError, ModelLoadError, PlaygroundError, PromptTooLongError
from playground.loading import HubAccess, TransformersLoader, hub_access
from playground.memory import Precision
from playground.registry import Registry
from playground.requests import Answer, Cancel, Metrics, Notice, NoticeCode, Request, Thinking
from playground.settings import Settings, Switch

HELLO = [{"role": "user", "content": "Hello! Who are you?"}]


CPU = Settings(device="cpu")


def cpu_registry(catalog_path: Path, **settings) -> Registry:
    return Registry(load_catalog(catalog_path), TransformersLoader(Settings(device="cpu", **settings)))


@pytest.fixture(scope="module")
def engine(tiny_catalog_path: Path) -> Engine:
    registry = cpu_registry(tiny_catalog_path)
    yield Engine(registry)
    registry.close()


def request(model: str = "tiny-qwen3", messages=HELLO, thinking: bool | None = None, precision=None,
            **sampling) -> Request:
    return Request(model=model, messages=messages, sampling=Sampling(**sampling), thinking=thinking,
                   precision=precision)


def run(engine: Engine, cancel: Cancel | None = None, **kwargs) -> tuple[str, str, Metrics, list[Notice]]:
    answer, thinking, notices, metrics = "", "", [], None
    for event in engine.stream(request(**kwargs), cancel):
        if isinstance(event, Answer):
            answer += event.text
        elif isinstance(event, Thinking):
            thinking += event.text
        elif isinstance(event, Notice):
            notices.append(event)
        elif isinstance(event, Metrics):
            metrics = event
    return answer, thinking, metrics, notices


@pytest.mark.parametrize("model", ["tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe"])
def test_greedy_stream_equals_model_generate(engine: Engine, model: str) -> None:
    """Streamed text (token by token, through the detokenizer) equals non-streamed greedy `generate`."""
    answer, _, metrics, _ = run(engine, model=model, temperature=0, max_new_tokens=40, thinking=False)
    with engine.registry.acquire(model) as lease:
        tokenizer, hf_model = lease.loaded.processor, lease.loaded.model
        ids = tokenizer.apply_chat_template(HELLO, add_generation_prompt=True, return_tensors="pt", return_dict=True,
                                            **({"enable_thinking": False} if lease.spec.thinks else {}))
        out = hf_model.generate(**ids, do_sample=False, max_new_tokens=40)
    expected = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answer == expected.lstrip()
    assert metrics.tokens == 40 and metrics.prompt_tokens == ids["input_ids"].shape[1]
    assert metrics.time_to_first_token_s > 0 and metrics.tokens_per_s > 0 and not metrics.stopped
    assert metrics.backend == "serial" and metrics.finish.value == "length"


def test_seed_makes_sampling_reproducible(engine: Engine) -> None:
    first = run(engine, temperature=1.0, top_p=1.0, top_k=0, seed=1234, max_new_tokens=30)[0]
    again = run(engine, temperature=1.0, top_p=1.0, top_k=0, seed=1234, max_new_tokens=30)[0]
    other = run(engine, temperature=1.0, top_p=1.0, top_k=0, seed=99, max_new_tokens=30)[0]
    assert first == again
    assert first != other


def test_seeded_sampling_is_unaffected_by_a_concurrent_request(engine: Engine) -> None:
    alone = run(engine, temperature=1.0, top_k=0, seed=7, max_new_tokens=30)[0]
    results = {}

    def sample(name: str, seed: int | None) -> None:
        results[name] = run(engine, temperature=1.0, top_k=0, seed=seed, max_new_tokens=30)[0]

    threads = [threading.Thread(target=sample, args=("seeded", 7)),
               threading.Thread(target=sample, args=("noise", None))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["seeded"] == alone


class CountingCancel(Cancel):
    """Counts the model's checks before the stop: the stopping criterion runs once per token."""

    tokens_before_stop = 0

    def is_set(self) -> bool:
        stopped = super().is_set()
        if not stopped:
            self.tokens_before_stop += 1
        return stopped


def test_stop_halts_the_model_within_a_few_tokens(engine: Engine) -> None:
    cancel = CountingCancel()
    chunks = 0
    metrics = None
    for event in engine.stream(request(max_new_tokens=3000), cancel):
        if isinstance(event, Answer):
            chunks += 1
            if chunks == 5:
                cancel.set()
        if isinstance(event, Metrics):
            metrics = event
    assert metrics.stopped
    assert metrics.tokens <= cancel.tokens_before_stop + 1  # the very next check stops it
    assert metrics.tokens < 200  # nowhere near the 3000 asked for


def test_closing_the_stream_stops_the_worker(engine: Engine) -> None:
    stream = engine.stream(request(max_new_tokens=3000))
    next(e for e in stream if isinstance(e, Answer))
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if t.name.startswith("generate-")]
    assert engine.registry.snapshot()[0].in_use == 0 or all(s.in_use == 0 for s in engine.registry.snapshot())


def test_out_of_range_sampling_is_refused_before_loading(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match="repetition_penalty must be above 0"):
        run(engine, repetition_penalty=-1.0, max_new_tokens=5)
    with pytest.raises(InvalidRequestError, match="top_p"):
        run(engine, top_p=1.5)
    assert all(s.in_use == 0 for s in engine.registry.snapshot())


def test_empty_conversation_is_refused(engine: Engine) -> None:
    with pytest.raises(PlaygroundError, match="no user message"):
        run(engine, messages=[{"role": "user", "content": "   "}])
    with pytest.raises(PlaygroundError, match="no user message"):
        run(engine, messages=[{"role": "user", "content": [{"type": "text", "text": " "}]}])


def test_images_for_a_text_model_get_a_clear_message(engine: Engine) -> None:
    parts = [{"type": "image", "image": "cat.png"}, {"type": "text", "text": "What is this?"}]
    with pytest.raises(InvalidRequestError, match="reads text only"):
        run(engine, messages=[{"role": "user", "content": parts}])


def test_text_parts_are_read_like_plain_text(engine: Engine) -> None:
    parts = [{"type": "text", "text": "Hello! "}, {"type": "text", "text": "Who are you?"}]
    assert run(engine, messages=[{"role": "user", "content": parts}], temperature=0, max_new_tokens=8)[0] == \
        run(engine, temperature=0, max_new_tokens=8)[0]


def test_oldest_turns_are_dropped_to_fit_the_context(tiny_catalog_path: Path) -> None:
    registry = cpu_registry(tiny_catalog_path, context_limit=160)
    small = Engine(registry)
    history = []
    for i in range(6):
        history += [{"role": "user", "content": f"Question number {i} about the weather"},
                    {"role": "assistant", "content": f"Answer number {i}: it is sunny today"}]
    messages = [{"role": "system", "content": "Be brief."}, *history, {"role": "user", "content": "And now?"}]
    _, _, metrics, notices = run(small, messages=messages, max_new_tokens=20, temperature=0)
    assert notices and notices[0].code is NoticeCode.DROPPED_TURNS and notices[0].params["window"] == 160
    assert metrics.prompt_tokens <= 160 - 20
    with pytest.raises(PromptTooLongError, match="Shorten the message"):
        run(small, messages=[{"role": "user", "content": "word " * 500}], max_new_tokens=20)
    # More new tokens than the window holds: the reply gets what the window leaves after the prompt.
    _, _, capped, _ = run(small, max_new_tokens=500, temperature=0)
    assert capped.tokens == 160 - capped.prompt_tokens and capped.finish.value == "length"
    registry.close()


def test_thinking_mode_changes_the_prompt(engine: Engine) -> None:
    with engine.registry.acquire("tiny-qwen3") as lease:
        tokenizer = lease.loaded.processor
        off = tokenizer.decode(build_prompt(tokenizer, HELLO, thinking=False, budget=1000).input_ids)
        on = tokenizer.decode(build_prompt(tokenizer, HELLO, thinking=True, budget=1000).input_ids)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert on.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("model", ["tiny-qwen3", "tiny-qwen3-moe"])
def test_each_precision_loads_and_generates_on_cpu(tiny_catalog_path: Path, model: str) -> None:
    registry = cpu_registry(tiny_catalog_path)
    engine = Engine(registry)
    footprints = {}
    for precision in (Precision.BF16, Precision.INT8, Precision.NF4):
        answer, _, metrics, _ = run(engine, model=model, precision=precision, max_new_tokens=8, temperature=0)
        assert metrics.precision is precision and metrics.tokens == 8 and answer
        footprints[precision] = next(s.footprint for s in registry.snapshot() if s.precision is precision)
        registry.unload(model)
    assert footprints[Precision.BF16] > footprints[Precision.INT8] > footprints[Precision.NF4]
    registry.close()


def test_a_hub_model_that_cannot_be_downloaded_says_what_to_do(tmp_path: Path) -> None:
    """With the Hub unreachable (a closed local port stands in for it) the load fails at once."""
    architecture = dict(layers=1, attention_heads=1, kv_heads=1, head_dim=8, hidden_size=8, intermediate_size=8,
                        vocab_size=8, tie_word_embeddings=True)
    catalog_file = write_catalog(tmp_path / "c.toml", {"ghost": {
        "source": "Qwen/Qwen3-Ghost-1B", "tasks": ["chat"], "params_billion": 0.001, "architecture": architecture}})
    closed = f"http://127.0.0.1:{free_port()}"
    registry = Registry(load_catalog(catalog_file), TransformersLoader(CPU, hub_endpoint=closed))
    with pytest.raises(ModelLoadError) as info:
        registry.acquire("ghost")
    message = str(info.value)
    assert message.startswith("Could not load ghost from the Hugging Face Hub repo Qwen/Qwen3-Ghost-1B: the Hugging "
                              "Face Hub is unreachable and the model is not in the local cache.")
    assert "hf download Qwen/Qwen3-Ghost-1B --local-dir ./models/Qwen3-Ghost-1B" in message
    assert "Local checkpoints" in message
    assert registry.snapshot() == []


def test_generation_leaves_global_rng_alone(engine: Engine) -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    run(engine, temperature=1.0, seed=5, max_new_tokens=5)
    assert torch.equal(torch.rand(3), expected)


def test_the_ladder_and_eviction_with_real_models_under_a_memory_cap(tiny_catalog_path: Path) -> None:
    """A cap between the int8 and bf16 estimates makes the real loader step down, then evict."""
    from playground.memory import estimate

    catalog = load_catalog(tiny_catalog_path)
    spec = catalog.get("tiny-qwen3")
    cap = (estimate(spec, Precision.INT8).total + estimate(spec, Precision.BF16).total) // 2
    registry = Registry(catalog, TransformersLoader(Settings(device="cpu", memory_limit=cap / 1024**3)))
    engine = Engine(registry)
    assert run(engine, model="tiny-qwen3", max_new_tokens=4)[2].precision is Precision.INT8
    # tiny-qwen2 does not fit next to it at any precision: the idle tiny-qwen3 is unloaded.
    assert run(engine, model="tiny-qwen2", max_new_tokens=4)[2].precision is Precision.INT8
    assert [(s.key, s.precision) for s in registry.snapshot()] == [("tiny-qwen2", Precision.INT8)]
    assert registry.memory().name.endswith(f"(capped at {cap / 1024**2:.1f} MiB)")
    registry.close()


def test_a_vision_language_model_chats_in_text(tmp_path: Path) -> None:
    """Qwen2.5-VL loads through the image-text classes and its processor's template."""
    from devtools.tiny import build_checkpoint

    folder = build_checkpoint("qwen2_5_vl", tmp_path / "vl")
    catalog_file = write_catalog(tmp_path / "vl.toml", {"vl": {"source": folder, "tasks": ["chat", "vision"]}})
    registry = cpu_registry(catalog_file, batching=Switch.ON)
    answer, _, metrics, _ = run(Engine(registry), model="vl", max_new_tokens=8, temperature=0)
    assert answer and metrics.tokens == 8
    assert metrics.backend == "serial"  # batching is on, but vision models decode one at a time
    with registry.acquire("vl") as lease:
        assert type(lease.loaded.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
        assert hasattr(lease.loaded.processor, "image_processor")
    registry.close()


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_a_vision_model_answers_about_an_image_and_a_video_the_same_with_the_same_seed(tmp_path: Path,
                                                                                      arch: str) -> None:
    """A local Qwen-VL folder (its family read from config.json) through the real engine: files in, greedy
    answers reproducible, the prompt carrying the pixels."""
    from devtools.tiny import build_checkpoint
    from playground.tasks.visual_tokens import Grid, image_tokens, video_tokens
    from tests.media import write_image, write_video

    folder = build_checkpoint(arch, tmp_path / "vl")
    catalog_file = write_catalog(tmp_path / "vl.toml", {"vl": {"source": folder, "tasks": ["vision"]}})
    registry = cpu_registry(catalog_file)
    assert registry.catalog.get("vl").family == {"qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl"}[arch]
    image = write_image(tmp_path / "red.png", (200, 150), "red")
    video = write_video(tmp_path / "clip.mp4", seconds=2.0)
    engine = Engine(registry)
    grid = Grid.of(registry.catalog.get("vl").family)
    text_only = run(engine, model="vl", messages=[{"role": "user", "content": "What is this?"}], max_new_tokens=1)
    for part, visual in (({"type": "image", "image": str(image), "max_pixels": 200_000},
                          image_tokens(200, 150, grid, 200_000)),
                         ({"type": "video", "video": str(video), "fps": 2.0, "max_frames": 8},
                          video_tokens(160, 120, 4, grid))):
        messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is this?"}]}]
        first = run(engine, model="vl", messages=messages, max_new_tokens=6, temperature=0)
        again = run(engine, model="vl", messages=messages, max_new_tokens=6, temperature=0)
        assert first[0] and first[0] == again[0] and first[2].tokens == 6
        assert first[2].prompt_tokens - text_only[2].prompt_tokens >= visual > 0  # the pixels are in the prompt
    registry.close()


def fake_hub(request: StarletteRequest) -> Response:
    """The Hub's answers about config.json, by repo: the headers huggingface_hub's client reads."""
    repo = request.path_params["repo"]
    if repo == "Qwen/Gated-1B":
        return Response(status_code=401, headers={"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"})
    if repo == "Qwen/Forbidden-1B":
        return Response(status_code=403)
    if repo != "Qwen/Fine-1B":
        return Response(status_code=401, headers={"X-Error-Code": "RepoNotFound", "X-Error-Message": "not found"})
    return Response(headers={"ETag": '"abc"', "X-Repo-Commit": "0" * 40, "Content-Length": "2"})


@pytest.mark.parametrize(("repo", "access"), [("Qwen/Fine-1B", HubAccess.OK), ("Qwen/Gated-1B", HubAccess.GATED),
                                              ("Qwen/Nope-1B", HubAccess.MISSING),
                                              ("Qwen/Forbidden-1B", HubAccess.FORBIDDEN)])
def test_the_hub_is_asked_through_its_own_client(repo: str, access: HubAccess, monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the fake Hub is on loopback
    app = Starlette(routes=[Route("/{repo:path}/resolve/main/config.json", fake_hub, methods=["GET", "HEAD"])])
    with LoopbackServer(app) as hub:
        assert hub_access(repo, hub.url) is access
    assert hub_access(repo, f"http://127.0.0.1:{free_port()}") is HubAccess.UNREACHABLE


@pytest.mark.parametrize(("repo", "said"), [
    ("Qwen/Gated-1B", "gated is gated on the Hugging Face Hub: accept its licence at https://huggingface.co/Qwen/"
                      "Gated-1B with your account, then set HF_TOKEN to a read token of that account"),
    ("Qwen/Nope-1B", "The Hugging Face Hub has no repo Qwen/Nope-1B (gated), or it is private and HF_TOKEN cannot see "
                     "it: check `source` in the catalogue"),
])
def test_a_gated_or_missing_repo_says_what_to_do_before_any_download(tmp_path: Path, repo: str, said: str,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the fake Hub is on loopback
    architecture = dict(layers=1, attention_heads=1, kv_heads=1, head_dim=8, hidden_size=8, intermediate_size=8,
                        vocab_size=8, tie_word_embeddings=True)
    catalog_file = write_catalog(tmp_path / "c.toml", {"gated": {
        "source": repo, "tasks": ["chat"], "params_billion": 0.001, "architecture": architecture}})
    app = Starlette(routes=[Route("/{repo:path}/resolve/main/config.json", fake_hub, methods=["GET", "HEAD"])])
    with LoopbackServer(app) as hub:
        registry = Registry(load_catalog(catalog_file), TransformersLoader(CPU, hub_endpoint=hub.url))
        with pytest.raises(ModelLoadError) as info:
            registry.acquire("gated")
    assert said in str(info.value)


def test_the_static_cache_decoder_gives_the_same_greedy_text(fp32_catalog_path: Path) -> None:
    """`--compile on` decodes with a static KV cache (compiled on CUDA); its text must not change (float32:
    the static cache attends over masked slots too, which rounds differently in 16-bit)."""
    from playground.backends.local import LocalBackend
    from playground.backends.serial import SerialDecoder

    engine = Engine(cpu_registry(fp32_catalog_path))
    expected = run(engine, temperature=0, max_new_tokens=24)[0]
    with engine.registry.acquire("tiny-qwen3") as lease:
        loaded = lease.loaded
        static = SerialDecoder(loaded.model, "cpu", compile=True)
        backend = LocalBackend(lease.spec, lease.precision, loaded.model, loaded.processor, static, "cpu")
        text = "".join(e.text for e in backend.stream(request(temperature=0, max_new_tokens=24), Cancel())
                       if isinstance(e, Answer))
    assert static.config.cache_implementation == "static"
    assert text == expected
    engine.registry.close()


def test_a_real_load_reports_its_weights_progress(tiny_catalog_path: Path) -> None:
    from playground.registry import LoadProgress

    registry = cpu_registry(tiny_catalog_path)
    spec = registry.catalog.get("tiny-qwen2")
    seen: list[tuple[str, int, int | None]] = []

    class Recording(LoadProgress):
        def report(self, stage: str, done: int, total: int | None) -> None:
            seen.append((stage, done, total))
            super().report(stage, done, total)

    loaded = registry.loader.load(spec, Precision.BF16, kv_tokens=128, progress=Recording())
    weights = [(done, total) for stage, done, total in seen if stage == "weights"]
    assert weights and weights[-1][0] == weights[-1][1] > 1  # every tensor counted, up to the total
    assert seen[-1][0] == "warm-up"
    registry.loader.unload(loaded)


def test_the_first_event_for_an_unloaded_model_is_loading(tiny_catalog_path: Path) -> None:
    from playground.requests import Loading

    engine = Engine(cpu_registry(tiny_catalog_path))
    events = list(engine.stream(request(max_new_tokens=4)))
    assert isinstance(events[0], Loading) and events[0].model == "tiny-qwen3"
    assert not any(isinstance(e, Loading) for e in engine.stream(request(max_new_tokens=4)))  # loaded now
    engine.registry.close()


def test_two_models_loading_at_once_each_get_their_own_dtype(tiny_catalog_path: Path) -> None:
    """from_pretrained sets torch's process-wide default dtype while it builds a model: loads at once
    (the Thinking tab's two columns) must not build one model partly in the other's dtype."""
    registry = cpu_registry(tiny_catalog_path)
    engine, results = Engine(registry), {}
    models = {"tiny-qwen3": Precision.BF16, "tiny-qwen2": Precision.FP32, "tiny-qwen3-moe": Precision.BF16}

    def answer(model: str) -> None:
        try:
            results[model] = run(engine, model=model, precision=models[model], max_new_tokens=4)[2]
        except PlaygroundError as exc:
            results[model] = exc

    try:
        threads = [threading.Thread(target=answer, args=(model,)) for model in models]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for model, precision in models.items():
            assert isinstance(results[model], Metrics), f"{model}: {results[model]}"
            with registry.acquire(model) as lease:
                dtypes = {p.dtype for p in lease.loaded.model.parameters()}
            assert dtypes == {torch.float32 if precision is Precision.FP32 else torch.bfloat16}, model
    finally:
        registry.close()
