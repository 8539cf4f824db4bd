"""Copy as code: the transformers snippet that reproduces a request in a notebook.

Built from the same `Request` the app sent (model id, messages or raw prompt, thinking switch,
sampling), so what a learner takes home is what they just saw run. Any tab can offer it.
"""

from __future__ import annotations

import pprint

from playground.catalog import ModelSpec
from playground.requests import Request, message_text


def transformers_snippet(spec: ModelSpec, request: Request) -> str:
    """Python source that loads the model and generates the reply `request` asked for."""
    s = request.sampling
    lines = [
        "# pip install transformers accelerate torch",
        "import torch",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f"model_id = {spec.source!r}",
        "tokenizer = AutoTokenizer.from_pretrained(model_id)",
        'model = AutoModelForCausalLM.from_pretrained(model_id, dtype="auto", device_map="auto")',
        "",
    ]
    if request.completion is not None:
        lines += [f"prompt = {request.completion!r}",
                  'inputs = tokenizer(prompt, return_tensors="pt").to(model.device)']
    else:
        messages = [{"role": m["role"], "content": message_text(m)} for m in request.messages]
        switch = f", enable_thinking={bool(request.thinking)}" if spec.hybrid and request.thinking is not None else ""
        lines += [f"messages = {pprint.pformat(messages, width=100, sort_dicts=False)}",
                  "inputs = tokenizer.apply_chat_template(",
                  f'    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True{switch}',
                  ").to(model.device)"]
    if s.seed is not None:
        lines.append(f"torch.manual_seed({s.seed})")
    if s.greedy:
        sampling = "do_sample=False"
    else:
        sampling = f"do_sample=True, temperature={s.temperature}, top_p={s.top_p}, top_k={s.top_k}"
        if s.min_p:
            sampling += f", min_p={s.min_p}"
    if s.repetition_penalty != 1.0:
        sampling += f", repetition_penalty={s.repetition_penalty}"
    lines += [
        f"output = model.generate(**inputs, max_new_tokens={s.max_new_tokens}, {sampling})",
        'print(tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
    ]
    return "\n".join(lines) + "\n"
