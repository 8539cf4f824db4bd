"""Tiny random-weight Qwen checkpoints, built offline, for tests, benchmarks and demos.

`build_tokenizer` trains a small byte-level BPE tokenizer in-process that carries Qwen's
special tokens and Qwen's real chat templates; `build_checkpoint` writes a complete local
folder (config, safetensors weights, generation config, tokenizer or processor) that the
ordinary `from_pretrained` calls load (AutoModelForCausalLM for the text archs,
AutoModelForImageTextToText + AutoProcessor for the VL archs), with nothing downloaded.
The weights are random, so what they write is noise: these checkpoints exercise loading,
templating, quantization and generation code paths, never quality. Loading, quantizing,
catalogueing and serving them is left to the rest of the playground.

    python -m devtools.tiny qwen3 /tmp/tiny-qwen3 --seed 0
"""
# The chat templates below are copied verbatim, long lines included.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    GenerationConfig,
    PreTrainedTokenizerFast,
)

from playground.catalog import load_catalog

ARCHS = ("qwen2", "qwen3", "qwen3_moe", "qwen2_5_vl", "qwen3_vl")
VISION_ARCHS = ("qwen2_5_vl", "qwen3_vl")

# Qwen's added tokens, in Qwen's order. The first group is special (skipped when decoding
# with skip_special_tokens); the second is ordinary added text, as in the real tokenizers.
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]
ADDED_TOKENS = [
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
]
VOCAB_TOTAL = 1024

# Qwen's own split pattern (tokenizer.json of Qwen2/2.5/3). transformers 5's AutoTokenizer picks
# Qwen2Tokenizer by model_type and rebuilds this exact pipeline from our vocab and merges, so
# anything else here would tokenize differently after a save/load round trip.
_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Enough text in each script that BPE learns multi-byte merges for all of them.
_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Large language models predict the next token from the tokens before it.",
    "Please summarize this article in three short sentences.",
    "What is the capital of France? The capital of France is Paris.",
    "Hello! How can I help you today? I am a helpful assistant.",
    "Write a short poem about the sea, the wind and the stars.",
    "人工智能正在改变我们的生活和工作方式。",
    "你好，我是一个乐于助人的助手。请问有什么可以帮你的吗？",
    "北京是中国的首都，上海是最大的城市。",
    "大语言模型可以回答问题、写代码和翻译文本。",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Bonjour ! Je suis un assistant utile. Comment puis-je vous aider ?",
    "La capitale de la France est Paris, une ville très célèbre.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Guten Tag! Wie kann ich Ihnen heute helfen? Größe, Straße, Übung.",
    "Die Hauptstadt von Deutschland ist Berlin.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "¡Hola! ¿En qué puedo ayudarte hoy? Soy un asistente útil.",
    "La inteligencia artificial está cambiando el mundo, señor.",
    "こんにちは！今日はどのようにお手伝いできますか？",
    "東京は日本の首都です。桜の季節はとても美しいです。",
    "大規模言語モデルは次のトークンを予測します。",
    "Solve for x: $x^2 - 5x + 6 = 0$, so $x = 2$ or $x = 3$.",
    r"The integral $\int_0^1 x^2 \, dx = \frac{1}{3}$ and $\sum_{n=1}^{\infty} \frac{1}{n^2} = \frac{\pi^2}{6}$.",
    r"Euler: $e^{i\pi} + 1 = 0$. Matrix: $\begin{pmatrix} a & b \\ c & d \end{pmatrix}$, $\sqrt{2} \approx 1.414$.",
    "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "import torch\nx = torch.randn(4, 8)\nprint(x.shape, x.mean().item())\n",
    'for (let i = 0; i < items.length; i++) {\n  console.log(`item ${i}: ${items[i]}`);\n}\n',
    '{"name": "get_weather", "arguments": {"city": "Beijing", "unit": "celsius"}}',
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name ORDER BY 2 DESC;",
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14159 -42 1e-6",
    "Emoji and symbols: 🙂 🚀 ✓ € £ ¥ © → ≤ ≥ ≠ ∞ α β γ δ λ μ π σ ω",
]

# Source: Qwen/Qwen3-8B, tokenizer_config.json "chat_template" (Apache-2.0), the revision
# that guards `message.content is string`; identical in all hybrid-thinking Qwen3 models.
QWEN3_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

# Source: Qwen/Qwen2.5-7B-Instruct, tokenizer_config.json "chat_template" (Apache-2.0),
# shared by all Qwen2.5-Instruct sizes.
QWEN2_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}"""

# Source: Qwen/Qwen2.5-VL-7B-Instruct, chat_template.json (Apache-2.0).
QWEN2_5_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Written for these tests after the shape of Qwen3-VL's template (a Qwen3 template whose content may
# be a list of parts): no default system prompt, images and videos as vision_start / pad / vision_end.
# The Thinking editions' template opens <think> itself (`opens_thinking`).
QWEN3_VL_CHAT_TEMPLATE = (
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for content in message['content'] %}"
    "{%- if content['type'] == 'image' or 'image' in content %}{{- '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif content['type'] == 'video' or 'video' in content %}{{- '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif 'text' in content %}{{- content['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}{{- '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CHAT_TEMPLATES = {"qwen2": QWEN2_CHAT_TEMPLATE, "qwen3": QWEN3_CHAT_TEMPLATE, "qwen3_moe": QWEN3_CHAT_TEMPLATE,
                  "qwen2_5_vl": QWEN2_5_VL_CHAT_TEMPLATE, "qwen3_vl": QWEN3_VL_CHAT_TEMPLATE}

# Small, but with linear layers holding ~90% of the parameters, so that 8-bit and 4-bit
# quantization (which only touches nn.Linear) visibly shrinks the memory footprint.
_BASE_CONFIG = dict(
    hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
    intermediate_size=1024, max_position_embeddings=4096, tie_word_embeddings=False,
    rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
    use_sliding_window=False, sliding_window=None, hidden_act="silu", initializer_range=0.02,
)
_MOE_CONFIG = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=256, norm_topk_prob=True,
                   decoder_sparse_step=1, mlp_only_layers=[], output_router_logits=False)
_VISION_CONFIG = {
    "qwen2_5_vl": dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, fullatt_block_indexes=[1]),
    "qwen3_vl": dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, deepstack_visual_indexes=[1],
                     num_position_embeddings=256),
}


# Qwen3-*-Thinking-2507 templates open the thinking block themselves: the generation prompt ends
# with "<think>\n" and the model writes only its thoughts, "</think>" and the answer.
OPENS_THINKING = "{%- if add_generation_prompt %}{{- '<think>\\n' }}{%- endif %}"


def build_tokenizer(arch: str = "qwen3", opens_thinking: bool = False) -> PreTrainedTokenizerFast:
    """Train a ~1k-token byte-level BPE tokenizer with Qwen's special tokens and `arch`'s chat template.

    `opens_thinking` makes the template open the thinking block, as Qwen3-*-Thinking-2507's do.
    """
    tok = Tokenizer(models.BPE())
    # Same pipeline as Qwen's tokenizer.json: NFC, regex split, then byte-level mapping,
    # so every Unicode string encodes (no unknown token) and decodes back unchanged.
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_TOTAL - len(SPECIAL_TOKENS) - len(ADDED_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        extra_special_tokens=SPECIAL_TOKENS[1:], clean_up_tokenization_spaces=False, split_special_tokens=False, model_max_length=131072,
        chat_template=CHAT_TEMPLATES[arch] + (OPENS_THINKING if opens_thinking else ""),
    )


def _config(arch: str, tokenizer: PreTrainedTokenizerFast, overrides: dict):
    endoftext, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    # deepcopy: config classes normalise nested dicts (rope_parameters) in place.
    values = copy.deepcopy(dict(_BASE_CONFIG, vocab_size=-(-len(tokenizer) // 64) * 64, dtype="float32",
                                bos_token_id=endoftext, eos_token_id=im_end, pad_token_id=endoftext))
    if arch == "qwen3_moe":
        values.update(_MOE_CONFIG)
    values.update({key: value for key, value in overrides.items() if key != "vision_config"})
    if arch not in VISION_ARCHS:
        return AutoConfig.for_model(arch, **values)
    vision = dict(_VISION_CONFIG[arch], **overrides.get("vision_config", {}))
    # The VL archs nest the language model's keys under text_config; overrides go there too.
    # Qwen2.5-VL's head size is hidden / heads; Qwen3-VL's is its own key, as in Qwen3.
    if arch == "qwen2_5_vl":
        values.pop("head_dim")
    head_dim = values.get("head_dim") or values["hidden_size"] // values["num_attention_heads"]
    values["rope_parameters"]["mrope_section"] = [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16]
    vision.setdefault("out_hidden_size", values["hidden_size"])
    names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    ids = tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"])
    return AutoConfig.for_model(arch, text_config=values, vision_config=vision, dtype=values["dtype"],
                                tie_word_embeddings=values["tie_word_embeddings"], **dict(zip(names, ids, strict=True)))


def build_checkpoint(arch: str, out_dir: str | Path, *, seed: int = 0, device: str = "cpu",
                     opens_thinking: bool = False, **config_overrides) -> Path:
    """Write a random-weight `arch` checkpoint with tokenizer to `out_dir`; any config key can be overridden.

    Text archs load with AutoModelForCausalLM; the VL archs load with AutoModelForImageTextToText and
    AutoProcessor, and its overrides apply to the language model (pass vision_config={...} for the tower).
    `device="cuda"` builds the weights on the GPU: minutes faster for a real 8B shape. `opens_thinking`
    gives the template a thinking-only model's generation prompt (see `build_tokenizer`).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    out = Path(out_dir)
    tokenizer = build_tokenizer(arch, opens_thinking)
    config = _config(arch, tokenizer, config_overrides)
    save_dtype = getattr(torch, config.dtype) if isinstance(config.dtype, str) else config.dtype
    # fork_rng keeps the caller's global RNG untouched while making the weights a function of seed.
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(seed)
        auto = AutoModelForImageTextToText if arch in VISION_ARCHS else AutoModelForCausalLM
        # Big shapes are built in their final dtype: float32 first would take twice the memory.
        model = auto.from_config(config, dtype=save_dtype)
    # Random weights put every logit near 0 with a spread of ~0.3, so the end-of-turn token
    # would win greedy decoding now and then and stop a reply after a token or two. Zeroing
    # the lm_head rows of the special/added tokens and of the vocab padding pins their logits
    # at exactly 0, which with ~1000 random competitors is practically never the maximum (nor
    # within top_k=20): replies run to max_new_tokens, and no undecodable padding id appears.
    vocab_size = model.get_output_embeddings().weight.shape[0]
    never = sorted(set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
                   | set(range(len(tokenizer), vocab_size)))
    with torch.no_grad():
        model.get_output_embeddings().weight[never] = 0.0
    endoftext, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    # Sampling defaults of Qwen2.5-Instruct's generation_config.json (Qwen3 ships 0.6/0.95/20 for thinking).
    model.generation_config = GenerationConfig(
        bos_token_id=endoftext, eos_token_id=[im_end, endoftext], pad_token_id=endoftext,
        do_sample=True, temperature=0.7, top_p=0.8, top_k=20,
    )
    model.save_pretrained(out)
    if arch in VISION_ARCHS:
        tokenizer = build_processor(arch, tokenizer)
    tokenizer.save_pretrained(out)
    return out


def build_processor(arch: str, tokenizer: PreTrainedTokenizerFast | None = None):
    """The VL arch's processor around `tokenizer` (a new one by default), with the image and video processors'
    defaults."""
    tokenizer = tokenizer or build_tokenizer(arch)
    # Imported here: they pull in torchvision, ~3 s that text-only builds need not pay.
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    if arch == "qwen2_5_vl":
        return Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer,
                                   video_processor=Qwen2VLVideoProcessor(), chat_template=tokenizer.chat_template)
    # Qwen3-VL: 16-pixel patches (32 x 32 pixels per visual token) and its own video processor.
    return Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(patch_size=16), tokenizer=tokenizer,
                            video_processor=Qwen3VLVideoProcessor(), chat_template=tokenizer.chat_template)


def shape_arch(key: str) -> str:
    """The `devtools.tiny` architecture of catalogue model `key` (its text model, for VL models)."""
    spec = load_catalog().get(key)
    if spec.architecture.experts:
        return "qwen3_moe"
    return "qwen2" if spec.family.startswith("qwen2") else "qwen3"


def real_shape(key: str) -> dict:
    """Config overrides that give a random-weight model the shape of catalogue model `key`."""
    arch = load_catalog().get(key).architecture  # the built-in catalogue
    shape = dict(
        num_hidden_layers=arch.layers, num_attention_heads=arch.attention_heads, num_key_value_heads=arch.kv_heads,
        head_dim=arch.head_dim, hidden_size=arch.hidden_size, intermediate_size=arch.intermediate_size,
        tie_word_embeddings=arch.tie_word_embeddings, vocab_size=arch.vocab_size, dtype="bfloat16",
    )
    if arch.experts:
        shape.update(num_experts=arch.experts, num_experts_per_tok=arch.experts_per_token,
                     moe_intermediate_size=arch.moe_intermediate_size)
    return shape


def shaped_checkpoint(shape: str, out_dir: str | Path, device: str = "cpu", tiny_arch: str = "qwen3") -> Path:
    """A benchmark's model: the tiny `tiny_arch` one for shape "tiny", else catalogue model `shape`'s shape."""
    if shape == "tiny":
        return build_checkpoint(tiny_arch, out_dir, device=device)
    return build_checkpoint(shape_arch(shape), out_dir, device=device, **real_shape(shape))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.tiny", description=__doc__.splitlines()[0])
    parser.add_argument("arch", choices=ARCHS)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_checkpoint(args.arch, args.out_dir, seed=args.seed))


if __name__ == "__main__":
    main()
