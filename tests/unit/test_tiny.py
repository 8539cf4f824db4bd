"""Tests for devtools.tiny: tokenizer, chat templates, checkpoints, seeds, overrides, bitsandbytes on CPU."""

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    BitsAndBytesConfig,
)

from devtools.tiny import ADDED_TOKENS, ARCHS, SPECIAL_TOKENS, VISION_ARCHS, build_checkpoint, build_tokenizer, main

MIXED_TEXT = (
    "Hello, world! 你好，世界。Ça va très bien. Größe und Straße. ¿Qué tal? こんにちは、東京。"
    " $\\frac{a}{b} + \\sqrt{x^2}$ def f(x):\n\treturn x ** 2  # 🙂🚀 ∑∞ 한국어 עברית"
)
CHAT = [{"role": "user", "content": "Tell me about Paris and 北京."}]
TEXT_ARCHS = [arch for arch in ARCHS if arch not in VISION_ARCHS]


def _prompt(tokenizer, messages=CHAT, **kwargs):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_checkpoint(arch, root / arch) for arch in ARCHS}


def test_special_and_added_tokens_are_single_ids(checkpoints):
    for tokenizer in (build_tokenizer(), AutoTokenizer.from_pretrained(checkpoints["qwen3"])):
        ids = [tokenizer.encode(t, add_special_tokens=False) for t in SPECIAL_TOKENS + ADDED_TOKENS]
        assert all(len(i) == 1 for i in ids)
        assert len({i[0] for i in ids}) == len(ids)
        assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
        assert {"<|im_start|>", "<|im_end|>", "<|endoftext|>"} <= set(tokenizer.all_special_tokens)
        # Inside running text too, not only on their own.
        text = "<|im_start|>user\nhi<|im_end|>\n<think>\nhm\n</think>\n\n<tool_call>x</tool_call>"
        pieces = tokenizer.convert_ids_to_tokens(tokenizer.encode(text, add_special_tokens=False))
        for token in ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>"):
            assert token in pieces


def test_vocab_is_about_1024():
    assert 900 <= len(build_tokenizer()) <= 1024


def test_round_trip_mixed_language(checkpoints):
    fresh = build_tokenizer()
    loaded = AutoTokenizer.from_pretrained(checkpoints["qwen3"])
    ids = fresh.encode(MIXED_TEXT, add_special_tokens=False)
    assert fresh.decode(ids) == MIXED_TEXT
    # The reloaded tokenizer (AutoTokenizer picks Qwen2Tokenizer by model_type) must agree exactly.
    assert loaded.encode(MIXED_TEXT, add_special_tokens=False) == ids
    assert loaded.decode(ids) == MIXED_TEXT
    assert len(ids) < len(MIXED_TEXT.encode("utf-8"))  # BPE merges did something


def test_build_tokenizer_is_deterministic():
    assert build_tokenizer().get_vocab() == build_tokenizer().get_vocab()


def test_qwen3_template_thinking_switch():
    tokenizer = build_tokenizer("qwen3")
    off = _prompt(tokenizer, enable_thinking=False)
    on = _prompt(tokenizer, enable_thinking=True)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert on.endswith("<|im_start|>assistant\n") and "<think>" not in on
    assert _prompt(tokenizer) == on
    assert off.startswith("<|im_start|>user\nTell me about Paris and 北京.<|im_end|>\n")


def test_qwen3_template_strips_earlier_thinking():
    tokenizer = build_tokenizer("qwen3")
    history = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them up\n</think>\n\nIt is 4."},
        {"role": "user", "content": "And 3+3?"},
    ]
    text = _prompt(tokenizer, history)
    assert "add them up" not in text
    assert "<|im_start|>assistant\nIt is 4.<|im_end|>\n" in text


def test_qwen2_template_default_system_prompt():
    tokenizer = build_tokenizer("qwen2")
    default = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    assert _prompt(tokenizer).startswith(default)
    own = _prompt(tokenizer, [{"role": "system", "content": "Be brief."}] + CHAT)
    assert own.startswith("<|im_start|>system\nBe brief.<|im_end|>\n") and "Alibaba" not in own
    assert own.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("arch", TEXT_ARCHS)
def test_checkpoint_loads_and_generates_to_max_new_tokens(arch, tmp_path):
    for seed in range(5):
        path = build_checkpoint(arch, tmp_path / str(seed), seed=seed)
        for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json"):
            assert (path / name).is_file()
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.config.model_type == arch and model.dtype == torch.float32
        gen = model.generation_config
        im_end, endoftext = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
        assert gen.eos_token_id == [im_end, endoftext] and gen.pad_token_id == endoftext
        assert (gen.do_sample, gen.temperature, gen.top_p, gen.top_k) == (True, 0.7, 0.8, 20)
        inputs = tokenizer(_prompt(tokenizer), return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=64, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1]:].tolist()
        assert len(new) == 64
        assert im_end not in new and endoftext not in new
        assert max(new) < len(tokenizer)  # never a vocab-padding id


@pytest.mark.parametrize("arch", VISION_ARCHS)
def test_vision_checkpoint_loads_and_generates(checkpoints, arch):
    path = checkpoints[arch]
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    assert model.config.model_type == arch
    assert model.config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # 14-pixel patches for Qwen2.5-VL, 16-pixel ones for Qwen3-VL, as the real processors have.
    assert processor.image_processor.patch_size == {"qwen2_5_vl": 14, "qwen3_vl": 16}[arch]
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (112, 140, 3), dtype=np.uint8))
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "What?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # Qwen2.5-VL's template adds a default system prompt; Qwen3-VL's does not.
    default_system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    assert text.startswith(default_system if arch == "qwen2_5_vl" else "<|im_start|>user\n")
    assert "<|vision_start|><|image_pad|><|vision_end|>What?<|im_end|>" in text
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    assert "pixel_values" in inputs
    new = model.generate(**inputs, max_new_tokens=64, do_sample=False)[0, inputs["input_ids"].shape[1]:].tolist()
    assert len(new) == 64 and processor.tokenizer.convert_tokens_to_ids("<|im_end|>") not in new


def test_default_shapes(checkpoints):
    config = AutoModelForCausalLM.from_pretrained(checkpoints["qwen3_moe"]).config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (256, 4, 4)
    assert (config.num_key_value_heads, config.head_dim, config.intermediate_size) == (2, 64, 1024)
    assert (config.num_experts, config.num_experts_per_tok, config.moe_intermediate_size) == (4, 2, 256)
    assert config.vocab_size % 64 == 0 and config.max_position_embeddings == 4096
    assert config.tie_word_embeddings is False


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    a = load_file(build_checkpoint("qwen3", tmp_path / "a", seed=7) / "model.safetensors")
    b = load_file(build_checkpoint("qwen3", tmp_path / "b", seed=7) / "model.safetensors")
    c = load_file(build_checkpoint("qwen3", tmp_path / "c", seed=8) / "model.safetensors")
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_config_overrides_apply(tmp_path):
    path = build_checkpoint("qwen3", tmp_path / "x", num_hidden_layers=2, intermediate_size=512, dtype="bfloat16")
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.num_hidden_layers == 2 and len(model.model.layers) == 2
    assert model.model.layers[0].mlp.up_proj.out_features == 512
    assert model.dtype == torch.bfloat16
    assert {t.dtype for t in load_file(path / "model.safetensors").values()} == {torch.bfloat16}


def test_cli_prints_folder(tmp_path, capsys):
    main(["qwen2", str(tmp_path / "cli"), "--seed", "3"])
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    assert (tmp_path / "cli" / "model.safetensors").is_file()


def test_bitsandbytes_on_cpu_shrinks_footprint(checkpoints):
    path = checkpoints["qwen3"]
    inputs = AutoTokenizer.from_pretrained(path)(_prompt(build_tokenizer()), return_tensors="pt")
    int8 = BitsAndBytesConfig(load_in_8bit=True)
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
    footprints, kinds = {}, {}
    for name, kwargs in {
        "fp32": {},
        "bf16": {"dtype": torch.bfloat16},
        "int8": {"dtype": torch.bfloat16, "quantization_config": int8, "device_map": "cpu"},
        "nf4": {"dtype": torch.bfloat16, "quantization_config": nf4, "device_map": "cpu"},
    }.items():
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        footprints[name] = model.get_memory_footprint()
        kinds[name] = type(model.model.layers[0].mlp.up_proj).__name__
        assert model.generate(**inputs, max_new_tokens=4, do_sample=False).shape[1] == inputs["input_ids"].shape[1] + 4
    assert footprints["fp32"] > footprints["bf16"] > footprints["int8"] > footprints["nf4"]
    assert kinds == {"fp32": "Linear", "bf16": "Linear", "int8": "Linear8bitLt", "nf4": "Linear4bit"}
