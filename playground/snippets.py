"""Copy as code: the snippet that reproduces a request in a notebook.

Built from the same `Request` the app sent (model id, messages or raw prompt, thinking switch,
sampling), so what a learner takes home is what they just saw run. Any tab can offer it. A model
this machine runs gets transformers code; a model on another server gets `openai` client code
against that server (`snippet` picks).
"""

from __future__ import annotations

import pprint

from playground.catalog import ModelSpec
from playground.requests import Request, message_text


def snippet(spec: ModelSpec, request: Request) -> str:
    return openai_snippet(spec, request) if spec.remote is not None else transformers_snippet(spec, request)


def openai_snippet(spec: ModelSpec, request: Request) -> str:
    """Python source that asks `spec`'s server for the reply `request` asked for, as the app did."""
    from playground.backends.remote import extra_sampling, standard_sampling

    remote = spec.remote
    assert remote is not None
    key = f"os.environ[{remote.api_key_env!r}]" if remote.api_key_env else '"EMPTY"'
    extra = extra_sampling(request.sampling)
    if spec.hybrid and request.thinking is not None and request.completion is None:
        extra["chat_template_kwargs"] = {"enable_thinking": bool(request.thinking)}
    lines = ["# pip install openai", "import os", "", "from openai import OpenAI", "",
             f"client = OpenAI(base_url={remote.base_url!r}, api_key={key})"]
    arguments = [f"model={remote.model!r}"]
    if request.completion is not None:
        arguments.append(f"prompt={request.completion!r}")
    else:
        messages = [{"role": m["role"], "content": message_text(m)} for m in request.messages]
        lines.append(f"messages = {pprint.pformat(messages, width=100, sort_dicts=False)}")
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
