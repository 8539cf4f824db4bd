"""The running app through its public API, as `gradio_client` users see it."""

from __future__ import annotations

import threading

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from playground.tasks.visual_tokens import Grid, image_tokens
from tests.media import write_image


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def reply_text(messages: list[dict]) -> str:
    return "".join(m["content"] for m in messages if not m.get("metadata"))


def error_text(messages: list[dict]) -> str:
    return next(m["content"] for m in messages if (m.get("metadata") or {}).get("id") == "error")


def metrics_line(messages: list[dict]) -> str:
    return next(m["content"] for m in messages if (m.get("metadata") or {}).get("id") == "metrics")


def test_api_lists_the_public_endpoints(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/chat", "/models", "/compare_thinking", "/math", "/code", "/fim", "/vision"}
    names = [p["parameter_name"] for p in endpoints["/math"]["parameters"]]
    assert names == ["problem", "expected_answer", "mode", "samples", "model", "thinking", "max_new_tokens", "seed",
                     "temperature", "top_p", "top_k", "min_p", "repetition_penalty"]
    names = [p["parameter_name"] for p in endpoints["/chat"]["parameters"]]
    assert names == ["message", "model", "system_prompt", "thinking", "temperature", "top_p", "top_k", "min_p",
                     "repetition_penalty", "max_new_tokens", "seed", "thinking_budget"]


def test_vision_answers_about_an_image_with_its_token_count(client: Client, tmp_path) -> None:
    names = [p["parameter_name"] for p in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
             ["/vision"]["parameters"]]
    assert names == ["files", "prompt", "model", "mode", "max_pixels", "fps", "max_frames", "thinking",
                     "max_new_tokens", "seed", "temperature", "top_p", "top_k", "min_p", "repetition_penalty"]
    image = write_image(tmp_path / "white.png", (640, 480))
    for model, family in (("tiny-qwen2.5-vl", "qwen2.5-vl"), ("tiny-qwen3-vl", "qwen3-vl")):
        out = client.predict(files=[handle_file(str(image))], prompt="What is this?", model=model,
                             max_new_tokens=8, api_name="/vision")
        assert out["error"] is None and out["done"] and out["answer"]  # random weights: some 8 tokens of noise
        assert out["visual_tokens"] == image_tokens(640, 480, Grid.of(family), 1_000_000)


def test_vision_says_what_is_wrong_with_a_file(client: Client, tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image" * 20)
    out = client.predict(files=[handle_file(str(broken))], prompt="What?", model="tiny-qwen3-vl", api_name="/vision")
    assert "broken.png could not be read as an image" in out["error"]
    out = client.predict(files=[handle_file(str(write_image(tmp_path / "w.png")))], prompt="What?",
                         model="tiny-qwen3", api_name="/vision")
    assert out["error"].startswith("tiny-qwen3 reads text only: pick a vision model (Qwen-VL)")


def test_compare_thinking_returns_both_columns_and_the_comparison(client: Client) -> None:
    out = client.predict(prompt="Is 91 prime?", left_model="tiny-qwen3", right_model="tiny-qwen3", seed=5,
                         max_new_tokens=12, api_name="/compare_thinking")
    assert out["done"] and set(out) == {"left", "right", "comparison", "done"}
    left, right = out["left"], out["right"]
    assert (left["thinking_mode"], right["thinking_mode"]) == (True, False)  # the defaults: left on, right off
    assert right["prompt"].rstrip().endswith("<|im_start|>assistant\n<think>\n\n</think>")
    assert left["prompt"].rstrip().endswith("<|im_start|>assistant")
    for column in (left, right):
        assert column["error"] is None and column["answer"] + column["thinking"]
        figures = column["figures"]
        assert figures["thinking_tokens"] + figures["answer_tokens"] == 12
        assert figures["tokens_per_s"] > 0 and figures["time_to_first_token_s"] > 0
    assert out["comparison"]["extra_tokens"] == 0  # both wrote 12 tokens


def test_compare_thinking_says_which_column_cannot_run(client: Client) -> None:
    out = client.predict(prompt="Hi", left_model="tiny-qwen2", right_model="tiny-qwen3", max_new_tokens=8,
                         api_name="/compare_thinking")
    assert "tiny-qwen2 does not think" in out["left"]["error"]
    assert out["right"]["error"] is None and out["right"]["figures"]["answer_tokens"] == 8
    with pytest.raises(AppError) as info:  # as for /chat: the valid keys are listed
        client.predict(prompt="Hi", left_model="qwen-nope", right_model="tiny-qwen3", api_name="/compare_thinking")
    assert "qwen-nope" in str(info.value) and "tiny-qwen3" in str(info.value)


def test_math_runs_samples_of_a_real_tiny_model_in_both_modes(client: Client) -> None:
    """Random weights write no box and no Python block: the solutions come back whole, with nothing to vote on."""
    for mode in ("Step by step", "With Python (TIR)"):
        out = client.predict(problem="What is 2 + 2?", expected_answer="4", mode=mode, samples=2, model="tiny-qwen3",
                             thinking=False, max_new_tokens=16, seed=1, temperature=1.0, api_name="/math")
        assert out["done"] and len(out["solutions"]) == 2, out
        for solution in out["solutions"]:
            assert solution["error"] is None and solution["tokens"] == 16 and solution["finish"] == "length"
        assert out["vote"] == [{"answer": "(no answer)", "samples": 2}] and out["answer"] is None
        assert out["expected_answer"] == "4" and out["correct"] is None


def test_math_says_what_is_wrong_with_its_input(client: Client) -> None:
    out = client.predict(problem="What is 2 + 2?", samples=4, model="tiny-qwen3", temperature=0, api_name="/math")
    assert "majority vote needs different samples" in out["error"]
    out = client.predict(problem="", model="tiny-qwen3", api_name="/math")
    assert out["error"] == "Type a problem first."


def test_code_returns_the_reply_and_its_files(client: Client) -> None:
    out = client.predict(request="A binary search", model="tiny-qwen2", language="Python", max_new_tokens=12, seed=2,
                         api_name="/code")
    assert out["done"] and out["error"] is None and out["reply"]
    assert isinstance(out["files"], list)  # random weights rarely write a fence; the shape is what matters here
    out = client.predict(request="", model="tiny-qwen2", api_name="/code")
    assert out["error"] == "Type a request first."


def test_fim_says_which_models_can_fill_in_the_middle(client: Client) -> None:
    out = client.predict(prefix="def f():\n", suffix="\n    return 1\n", model="tiny-qwen2", api_name="/fim")
    assert "tiny-qwen2 is not trained to fill in the middle" in out["error"]


def test_chat_streams_a_reply_with_metrics(client: Client) -> None:
    # Sampled noise has spaces often, so the word-level streamer has text to send early.
    job = client.submit(message="Bonjour !", model="tiny-qwen2", max_new_tokens=96, temperature=1.0, seed=3,
                        api_name="/chat")
    lengths = [len(reply_text(update)) for update in job]
    final = job.result()
    assert len(set(lengths)) >= 3, f"no streaming seen: {lengths}"
    assert lengths == sorted(lengths)
    assert reply_text(final)
    assert "96 tokens" in metrics_line(final) and "tok/s" in metrics_line(final)


def test_greedy_chat_is_deterministic_through_the_api(app_url: str) -> None:
    """Each Client is its own conversation (the server keeps its history), so use two."""
    replies = [
        Client(app_url, verbose=False).predict(
            message="Same input", model="tiny-qwen3", temperature=0, max_new_tokens=16, api_name="/chat"
        )
        for _ in range(2)
    ]
    assert reply_text(replies[0]) == reply_text(replies[1]) != ""


def test_a_client_session_is_one_conversation(app_url: str) -> None:
    """The second call of the same client continues the conversation: greedy output changes."""
    fresh = Client(app_url, verbose=False).predict(
        message="Next", model="tiny-qwen3", temperature=0, max_new_tokens=16, api_name="/chat"
    )
    session = Client(app_url, verbose=False)
    session.predict(message="First", model="tiny-qwen3", temperature=0, max_new_tokens=16, api_name="/chat")
    continued = session.predict(message="Next", model="tiny-qwen3", temperature=0, max_new_tokens=16, api_name="/chat")
    assert reply_text(continued) != reply_text(fresh)


def test_models_endpoint_reports_state_and_estimates(client: Client) -> None:
    client.predict(message="warm up", model="tiny-qwen3", max_new_tokens=4, api_name="/chat")
    rows = {row["key"]: row for row in client.predict(api_name="/models")}
    assert set(rows) == {"tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen2.5-vl", "tiny-qwen3-vl"}
    loaded = rows["tiny-qwen3"]
    assert loaded["state"] == "ready" and loaded["precision"] == "bf16"
    assert loaded["footprint_bytes"] > 0 and loaded["in_use"] == 0 and loaded["idle_s"] >= 0
    estimates = loaded["estimates"]
    assert estimates["bf16"]["bytes"] > estimates["int8"]["bytes"] > estimates["nf4"]["bytes"] > 0
    assert estimates["bf16"]["fits"] is True


def test_unknown_model_error_lists_valid_keys(client: Client) -> None:
    with pytest.raises(AppError) as info:
        client.predict(message="hi", model="qwen-nonexistent", api_name="/chat")
    assert "qwen-nonexistent" in str(info.value)
    for key in ("tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe"):
        assert key in str(info.value)


def test_empty_message_is_refused(client: Client) -> None:
    reply = client.predict(message="   ", model="tiny-qwen3", api_name="/chat")
    assert error_text(reply) == "⚠️ Type a message first."
    assert reply_text(reply) == ""


def test_too_long_prompt_gets_a_clear_message(client: Client) -> None:
    reply = client.predict(message="lorem ipsum " * 3000, model="tiny-qwen3", max_new_tokens=16, api_name="/chat")
    assert "context window leaves room for 4,080 tokens of prompt" in error_text(reply)
    assert "Shorten the message" in error_text(reply)


def test_one_users_error_does_not_break_another(client: Client, app_url: str) -> None:
    results: dict[str, object] = {}

    def bad() -> None:
        results["bad"] = Client(app_url, verbose=False).predict(message="x " * 9000, model="tiny-qwen3",
                                                                api_name="/chat")

    def good() -> None:
        results["good"] = Client(app_url, verbose=False).predict(
            message="hello", model="tiny-qwen3", max_new_tokens=12, api_name="/chat"
        )

    threads = [threading.Thread(target=bad), threading.Thread(target=good)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert "context window" in error_text(results["bad"])
    assert "12 tokens" in metrics_line(results["good"])


def test_sampling_out_of_the_sliders_range_is_refused_with_the_range(client: Client) -> None:
    with pytest.raises(AppError, match="Value 0 is less than minimum value 0.01"):
        client.predict(message="hi", model="tiny-qwen3", top_p=0, api_name="/chat")
    reply = client.predict(message="hi", model="tiny-qwen3", min_p=0.2, max_new_tokens=4, api_name="/chat")
    assert "4 tokens" in metrics_line(reply)


# --- the batched backend, through the API (the app started with --batching on, float32 models) ---------------

BATCH_PROMPTS = [f"Request {i}: " + "please describe the sea " * i for i in range(8)]


def chat_alone(url: str, i: int, **kwargs) -> str:
    sampling = dict(temperature=0 if i % 2 else 0.8, seed=100 + i, max_new_tokens=32)
    return reply_text(Client(url, verbose=False).predict(message=BATCH_PROMPTS[i], model="tiny-qwen3",
                                                         thinking=False, api_name="/chat", **{**sampling, **kwargs}))


def test_eight_concurrent_chats_return_what_each_returns_alone(batched_app_url: str) -> None:
    alone = [chat_alone(batched_app_url, i) for i in range(8)]
    together: list = [None] * 8

    def run(i: int) -> None:
        together[i] = chat_alone(batched_app_url, i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert together == alone
    assert len(set(alone)) > 4  # the replies differ (greedy noise of a random model may repeat now and then)


def test_cancelling_one_chat_leaves_the_others_unchanged(batched_app_url: str) -> None:
    alone = [chat_alone(batched_app_url, i, max_new_tokens=64) for i in range(4)]
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = chat_alone(batched_app_url, i, max_new_tokens=64)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1, 3)]
    victim = Client(batched_app_url, verbose=False).submit(
        message=BATCH_PROMPTS[2], model="tiny-qwen3", thinking=False, temperature=0.8, seed=102, max_new_tokens=3000,
        api_name="/chat")
    for t in threads:
        t.start()
    for update in victim:  # wait until it streams, then walk away
        if reply_text(update):
            victim.cancel()
            break
    for t in threads:
        t.join(180)
    assert [results[i] for i in (0, 1, 3)] == [alone[i] for i in (0, 1, 3)]
    rows = {row["key"]: row for row in Client(batched_app_url, verbose=False).predict(api_name="/models")}
    assert rows["tiny-qwen3"]["backend"] == "batched"
