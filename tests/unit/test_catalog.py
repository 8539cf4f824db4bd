"""Catalogue validation: the built-in file, the schema contract, local folders."""

from __future__ import annotations

import json
import random
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from devtools.catalogs import write_catalog
from devtools.tiny import build_checkpoint
from playground.catalog import BUILTIN_CATALOG, Task, load_catalog, parse_catalog
from playground.errors import CatalogError, UnknownModelError

MINIMAL_ARCH = {
    "layers": 2, "attention_heads": 4, "kv_heads": 2, "head_dim": 8, "hidden_size": 32,
    "intermediate_size": 64, "vocab_size": 100, "tie_word_embeddings": True,
}


WITHOUT_VOCAB = {k: v for k, v in MINIMAL_ARCH.items() if k != "vocab_size"}


def entry(**overrides):
    return {"source": "Qwen/Example", "tasks": ["chat"], "architecture": dict(MINIMAL_ARCH), **overrides}


def remote(**overrides):
    return {"backend": "openai", "base_url": "http://gpu-box:8000/v1", "model": "Qwen/Qwen3-235B-A22B",
            "tasks": ["chat", "thinking"], **overrides}


def test_builtin_catalogue_validates_and_covers_the_families() -> None:
    catalog = load_catalog()
    families = {spec.family for spec in catalog}
    assert {"qwen2.5", "qwen2.5-coder", "qwen2.5-math", "qwen2.5-vl", "qwen3", "qwen3-vl"} <= families
    for key in ["qwen2.5-0.5b-instruct", "qwen2.5-72b-instruct", "qwen2.5-coder-32b-instruct",
                "qwen2.5-math-72b-instruct", "qwen2.5-vl-7b-instruct", "qwen3-0.6b", "qwen3-30b-a3b",
                "qwen3-235b-a22b"]:
        spec = catalog.get(key)
        assert spec.source.startswith("Qwen/")
        assert spec.architecture is not None and spec.params_billion and spec.context_length


def test_builtin_catalogue_facts_hold_together() -> None:
    for spec in load_catalog():
        arch = spec.architecture
        assert spec.hybrid == (spec.thinking_sampling is not None), spec.key  # thinking-only models have one preset
        assert spec.is_vision == (spec.family in {"qwen2.5-vl", "qwen3-vl"}), spec.key
        assert bool(arch.experts) == (spec.active_params_billion is not None), spec.key
        # Embeddings (and experts) are part of the total, never more than it.
        assert arch.embedding_params + arch.expert_params < spec.params_billion * 1e9, spec.key


def test_every_builtin_number_has_a_source_comment() -> None:
    """Each table's numbers sit under a `# Source:` line (the catalogue's own contract)."""
    table = None
    sourced = False
    for line in BUILTIN_CATALOG.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            table, sourced = line, False
        elif line.startswith("# Source:"):
            sourced = True
        elif re.match(r"^\w+\s*=\s*[\d.]", line):
            assert sourced, f"{table}: {line!r} has no # Source: comment above it"


def test_qwen3_has_separate_thinking_presets() -> None:
    spec = load_catalog().get("qwen3-8b")
    assert Task.THINKING in spec.tasks
    assert spec.sampling_for(thinking=True).temperature == 0.6
    assert spec.sampling_for(thinking=False).temperature == 0.7
    assert spec.sampling_for(thinking=True).top_p == 0.95


def test_unknown_key_lists_the_valid_ones() -> None:
    catalog = parse_catalog({"models": {"a": entry(), "b": entry()}})
    with pytest.raises(UnknownModelError) as info:
        catalog.get("nope")
    assert str(info.value) == "Unknown model 'nope'. Valid models: a, b."
    assert info.value.valid == ["a", "b"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({}, "at least one", id="no_models"),
        pytest.param({"models": {"a": entry(source="")}}, "`source`", id="empty_source"),
        pytest.param({"models": {"a": entry(tasks=[])}}, "`tasks`", id="no_tasks"),
        pytest.param({"models": {"a": entry(tasks=["dance"])}}, "unknown task", id="unknown_task"),
        pytest.param({"models": {"a": entry(colour="red")}}, "unknown keys ['colour']", id="unknown_key"),
        pytest.param({"models": {"a": {"source": "Qwen/X", "tasks": ["chat"]}}}, "[architecture] is required",
                     id="hub_model_without_architecture"),
        pytest.param({"models": {"a": entry(architecture={**MINIMAL_ARCH, "layers": 0})}}, "layers must be positive",
                     id="zero_layers"),
        pytest.param({"models": {"a": entry(architecture={**MINIMAL_ARCH, "kv_heads": 3})}}, "multiple of kv_heads",
                     id="heads_not_multiple"),
        pytest.param({"models": {"a": entry(architecture={**MINIMAL_ARCH, "experts": 8})}}, "MoE models need",
                     id="moe_incomplete"),
        pytest.param({"models": {"a": entry(architecture=WITHOUT_VOCAB)}},
                     "missing ['vocab_size']", id="arch_missing_number"),
        pytest.param({"models": {"a": entry(params_billion=-1)}}, "positive", id="negative_params"),
        pytest.param({"models": {"a": entry(context_length=1.5)}}, "positive int", id="fractional_context"),
        pytest.param({"models": {"a": entry(sampling={"temperature": "hot"})}}, "must be a number", id="bad_sampling"),
        pytest.param({"models": {"a": entry(sampling={"top_p": 0})}}, "top_p", id="zero_top_p"),
        pytest.param({"models": {"a": entry(sampling={"thinking": {"temperature": 0.6}})}}, "lacks 'thinking'",
                     id="thinking_preset_without_task"),
        pytest.param({"models": {"a": entry()}, "extra": {}}, "unknown top-level", id="unknown_table"),
        pytest.param({"models": {"a": remote(backend="grpc")}}, "`backend` must be one of ['local', 'openai']",
                     id="unknown_backend"),
        pytest.param({"models": {"a": entry(base_url="http://x/v1")}}, "['base_url'] belong to a model on another "
                     'server: add `backend = "openai"`', id="remote_key_on_a_local_entry"),
        pytest.param({"models": {"a": remote(source="Qwen/X")}}, "a model on another server takes no ['source']",
                     id="remote_with_source"),
        pytest.param({"models": {"a": remote(precision="nf4")}}, "takes no ['precision']", id="remote_with_precision"),
        pytest.param({"models": {"a": remote(base_url="gpu-box:8000")}}, "`base_url` must be the server's API "
                     "address", id="remote_url_without_scheme"),
        pytest.param({"models": {"a": remote(model="")}}, "`model` (the server's name for the model",
                     id="remote_without_model"),
        pytest.param({"models": {"a": remote(api_key_env="my key")}}, "`api_key_env` must be the name of an "
                     "environment variable", id="remote_bad_key_env"),
        pytest.param({"models": {"a": remote(timeout_s=0)}}, "`timeout_s` must be a positive", id="remote_timeout"),
    ],
)
def test_invalid_catalogues_are_refused_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog(data)
    assert message in str(info.value)


def test_a_remote_entry_names_its_server_and_needs_no_architecture() -> None:
    spec = parse_catalog({"models": {"big": remote(api_key_env="QWEN_API_KEY", base_url="https://x.example/v1/")}}
                         ).get("big")
    assert spec.remote is not None and not spec.is_local
    assert (spec.remote.base_url, spec.remote.model, spec.remote.api_key_env, spec.remote.timeout_s) == (
        "https://x.example/v1", "Qwen/Qwen3-235B-A22B", "QWEN_API_KEY", 120.0)
    assert spec.source == "Qwen/Qwen3-235B-A22B" and spec.architecture is None and spec.hybrid


def test_validation_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_catalog must not touch the disk, even for a path-like source."""
    def forbidden(*args, **kwargs):
        raise AssertionError("I/O during validation")

    monkeypatch.setattr(Path, "is_dir", forbidden)
    monkeypatch.setattr(Path, "read_text", forbidden)
    monkeypatch.setattr("builtins.open", forbidden)
    catalog = parse_catalog({"models": {"a": entry(source="/some/folder")}})
    assert catalog.get("a").source == "/some/folder"


def test_catalog_file_replaces_builtin_and_local_folder_fills_in_numbers(tmp_path: Path) -> None:
    folder = build_checkpoint("qwen3_moe", tmp_path / "ckpt")
    path = tmp_path / "mine.toml"
    write_catalog(path, {"mine": {"source": "./ckpt", "tasks": ["chat"]}})
    catalog = load_catalog(path)
    assert [spec.key for spec in catalog] == ["mine"]
    spec = catalog.get("mine")
    config = json.loads((folder / "config.json").read_text())
    assert spec.source == str(folder.resolve())
    assert spec.architecture.layers == config["num_hidden_layers"]
    assert spec.architecture.experts == config.get("num_experts", config.get("num_local_experts")) == 4
    assert spec.architecture.tie_word_embeddings is False
    assert spec.context_length == config["max_position_embeddings"]
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    assert spec.params_billion * 1e9 == pytest.approx(sum(p.numel() for p in model.parameters()))


def test_a_broken_local_folder_is_marked_unavailable_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json", encoding="utf-8")
    good = build_checkpoint("qwen2", tmp_path / "good")
    damaged = {name: shutil.copytree(good, tmp_path / name) for name in ("cut", "noise", "no-tokenizer", "no-weights")}
    weights = (good / "model.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(weights[:8], "little")
    (damaged["cut"] / "model.safetensors").write_bytes(weights[: header_end + 64])  # a download stopped early
    (damaged["noise"] / "model.safetensors").write_bytes(random.Random(0).randbytes(5000))  # a huge "header"
    for file in damaged["no-tokenizer"].glob("tokenizer*"):
        file.unlink()
    (damaged["no-weights"] / "model.safetensors").unlink()
    path = tmp_path / "c.toml"
    write_catalog(path, {key: {"source": f"./{key}", "tasks": ["chat"]}
                         for key in ("empty", "bad", "good", "cut", "noise", "no-tokenizer", "no-weights")})
    catalog = load_catalog(path)  # never raises for a folder: each broken entry says why, naming the file
    assert catalog.get("good").unavailable is None and catalog.get("good").params_billion > 0
    # Each reason is a key (said in the reader's language in the pickers); str() is the English sentence.
    expected = {
        "empty": ("load.no_config", "has no config.json"),
        "bad": ("load.bad_config", "config.json cannot be read as a Qwen config"),
        "cut": ("load.damaged_weights", "model.safetensors is cut off"),
        "noise": ("load.damaged_weights", "model.safetensors is not a safetensors file, or is cut off"),
        "no-tokenizer": ("load.no_tokenizer", "has no tokenizer (tokenizer.json"),
        "no-weights": ("load.no_weights", "has no weights (*.safetensors)"),
    }
    for key, (reason, words) in expected.items():
        unavailable = catalog.get(key).unavailable
        assert unavailable.key == reason and words in str(unavailable), key
    assert catalog.get("cut").unavailable.params["problem"].key == "load.cut_off"


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.x\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(bad)


def test_builtin_catalogue_is_plain_toml() -> None:
    data = tomllib.loads(BUILTIN_CATALOG.read_text(encoding="utf-8"))
    assert set(data) == {"models"}
