"""The Chat tab's state without a browser: conversations kept in the browser, settings that survive a
model switch, the model picker's words and default."""

from __future__ import annotations

from dataclasses import fields

import pytest

from playground.catalog import Sampling, parse_catalog
from playground.memory import Precision, estimate
from playground.registry import Registry
from tabs import history, picker
from tabs.chat import edit, follow_model, option, remember, reset_to_preset, restore, touch, undo
from tabs.reply import RETRY_LARGER, RETRY_NO_THINKING
from tests.fakes import FakeLoader

ARCH = {"layers": 4, "attention_heads": 4, "kv_heads": 2, "head_dim": 8, "hidden_size": 32,
        "intermediate_size": 64, "vocab_size": 100, "tie_word_embeddings": True}
THINKING = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_new_tokens": 38912}
CATALOG = parse_catalog({"models": {
    "qwen3-small": {"source": "Qwen/S", "family": "qwen3", "tasks": ["chat", "thinking"], "params_billion": 0.6,
                    "context_length": 32768, "architecture": ARCH,
                    "sampling": {"temperature": 0.7, "top_p": 0.8, "max_new_tokens": 16384, "thinking": THINKING}},
    "qwen3-big": {"source": "Qwen/B", "family": "qwen3", "tasks": ["chat", "thinking"], "params_billion": 8.0,
                  "context_length": 32768, "architecture": ARCH},
    "qwen3-huge": {"source": "Qwen/H", "family": "qwen3", "tasks": ["chat", "thinking"], "params_billion": 80.0,
                   "context_length": 32768, "architecture": ARCH},
    "qwen2.5-plain": {"source": "Qwen/P", "family": "qwen2.5", "tasks": ["chat"], "params_billion": 1.5,
                      "context_length": 4096, "architecture": ARCH},
}})
GB = 10**9


def registry(free: int, device: str = "cuda") -> Registry:
    loader = FakeLoader(free)
    loader.device = device
    return Registry(CATALOG, loader)


class CudaLoader(FakeLoader):
    def memory(self):
        memory = super().memory()
        return type(memory)("cuda", "fake GPU", memory.free, memory.total)


# --- conversations ------------------------------------------------------------------------------

@pytest.mark.parametrize(("messages", "title"), [
    pytest.param([{"role": "user", "content": "  Hello\n there  "}], "Hello there", id="whitespace_folded"),
    pytest.param([{"role": "user", "content": "x" * 60}], "x" * 39 + "…", id="cut_to_forty"),
    pytest.param([{"role": "user", "content": [{"type": "text", "text": "Parts"}]}], "Parts", id="parts"),
    pytest.param([{"role": "assistant", "content": "Hi"}], "New chat", id="no_user_message"),
])
def test_titles_come_from_the_first_user_message(messages, title) -> None:
    assert history.title_of(messages) == title


def test_conversations_are_saved_renamed_and_deleted_newest_first() -> None:
    first = [{"role": "user", "content": "First"}]
    one, saved = history.save([], None, first)
    two, saved = history.save(saved, None, [{"role": "user", "content": "Second"}])
    assert [c["title"] for c in saved] == ["Second", "First"] and one != two
    _, saved = history.save(saved, one, [*first, {"role": "assistant", "content": "Reply"}])
    assert [c["id"] for c in saved] == [one, two]  # saved again: back on top
    assert len(history.find(saved, one)["messages"]) == 2
    saved = history.rename(saved, one, "  Renamed   chat ")
    assert history.find(saved, one)["title"] == "Renamed chat"
    assert history.rename(saved, one, "   ") == saved  # a blank title keeps the old one
    saved = history.delete(saved, one)
    assert history.choices(saved) == [("Second", two)]
    assert history.save(saved, None, []) == (None, saved)  # an empty chat is not kept


# --- settings -------------------------------------------------------------------------------------

def test_a_model_switch_keeps_what_the_user_set_and_follows_the_preset_elsewhere() -> None:
    reg = registry(100 * GB)
    toggle, budget, temperature, top_p, *rest, tokens, info = follow_model(CATALOG, reg, None, "qwen3-small",
                                                                           True, ["top_p"], 1024)
    assert toggle.visible is True and budget.visible is True  # a hybrid Qwen3: switch and budget
    assert temperature == 0.6 and top_p.__class__.__name__ != "float"  # top_p untouched by the switch (a skip)
    assert tokens.value == 32768 and tokens.maximum == 32768  # 38,912 from the card, capped by the window
    _, *_, tokens, _ = follow_model(CATALOG, reg, 2048, "qwen3-small", False, ["max_new_tokens"], 500)
    assert tokens.value == 500 and tokens.maximum == 2048  # the user's value; the --context-limit bound


def test_reset_restores_the_preset_and_forgets_what_was_touched() -> None:
    *values, tokens, touched = reset_to_preset(CATALOG, None, "qwen3-small", True)
    assert values == [0.6, 0.95, 20, 0.0, 1.0] and tokens == 32768 and touched == []
    assert touch("top_k", touch("top_k", [])) == ["top_k"]


def test_settings_kept_by_the_browser_come_back_on_load() -> None:
    values = [0.3, 0.8, 20, 0.0, 1.1, 512, 7]
    saved = remember("qwen3-small", False, "Be brief.", ["temperature", "seed"], *values)
    assert saved["values"] == {"temperature": 0.3, "seed": 7}
    model, thinking, system, touched, *restored = restore(CATALOG, saved, "qwen3-big")
    assert (model, thinking, system, touched) == ("qwen3-small", False, "Be brief.", ["temperature", "seed"])
    names = [f.name for f in fields(Sampling)]
    assert restored[names.index("temperature")] == 0.3 and restored[names.index("seed")] == 7
    gone = {**saved, "model": "qwen-removed-from-the-catalogue"}
    assert all(v.__class__.__name__ != "str" for v in restore(CATALOG, gone, "qwen3-big"))  # all skips


# --- message actions ------------------------------------------------------------------------------

CHAT = [{"role": "user", "content": "One"}, {"role": "assistant", "content": "Reply one"},
        {"role": "assistant", "content": "<sub>m</sub>", "metadata": {"id": "metrics"}},
        {"role": "user", "content": "Two"}, {"role": "assistant", "content": "Reply two"}]


def test_undo_gives_the_last_message_back_and_edit_cuts_after_it() -> None:
    remaining, text = undo(CHAT)
    assert remaining == CHAT[:3] and text == "Two"

    class Edit:
        index, value = 3, "Two, better"

    assert edit(CHAT, Edit()) == [*CHAT[:3], {"role": "user", "content": "Two, better"}]


def test_the_options_under_an_out_of_tokens_reply() -> None:
    class Picked:
        def __init__(self, value):
            self.value = value

    assert option(Picked(f"{RETRY_LARGER}:4096"), 1024, True)[0] == 4096
    assert option(Picked(RETRY_NO_THINKING), 1024, True)[1] is False


# --- the picker -------------------------------------------------------------------------------------

def test_labels_name_family_size_key_and_fit() -> None:
    reg = Registry(CATALOG, CudaLoader(estimate(CATALOG.get("qwen3-big"), Precision.BF16).total + GB))
    labels = dict((key, label) for label, key in picker.choices(reg, list(CATALOG)))
    assert list(labels) == ["qwen3-small", "qwen3-big", "qwen3-huge", "qwen2.5-plain"]  # Qwen3 first, by size
    assert labels["qwen3-big"] == "Qwen3 · 8 B · qwen3-big · fits (bf16)"
    assert labels["qwen3-small"] == "Qwen3 · 600 M · qwen3-small · fits (bf16)"
    assert labels["qwen3-huge"].endswith("· too big here")
    reg.acquire("qwen3-small").release()
    assert picker.label(reg, CATALOG.get("qwen3-small")).endswith("· loaded (bf16)")
    assert "does not fit here" in picker.info(reg, CATALOG.get("qwen3-huge"))
    assert "fits here at bf16" in picker.info(reg, CATALOG.get("qwen3-big"))


def test_the_default_is_the_best_qwen3_that_fits() -> None:
    specs = list(CATALOG)
    gpu = Registry(CATALOG, CudaLoader(estimate(CATALOG.get("qwen3-big"), Precision.BF16).total + GB))
    assert picker.default_model(gpu, specs).key == "qwen3-big"
    small_gpu = Registry(CATALOG, CudaLoader(estimate(CATALOG.get("qwen3-small"), Precision.BF16).total + GB))
    assert picker.default_model(small_gpu, specs).key == "qwen3-small"
    cpu = Registry(CATALOG, FakeLoader(1000 * GB))  # fits everything, but a CPU chats best with a small model
    assert picker.default_model(cpu, specs).key == "qwen3-small"
    nothing = Registry(CATALOG, CudaLoader(GB // 100))
    assert picker.default_model(nothing, specs).key == "qwen3-small"  # the catalogue's first chat model
