"""The model catalogue: which Qwen variants exist and the facts memory and sampling depend on.

The catalogue is data (`catalog.toml` beside this file, or a file given with `--catalog`),
read with `tomllib` into frozen dataclasses and validated once. Validation (`parse_catalog`)
is pure: it touches neither disk nor network. The one piece of I/O, reading `config.json`
and the safetensors headers of an entry whose `source` is a local folder, happens in
`load_catalog`, before validation, and only for entries that leave architecture numbers out.

A malformed catalogue file stops the app with a `CatalogError` in English: it is read by whoever
starts the app, at start-up, before any reader's language is known. A broken local folder does
not stop it: its entry is marked `unavailable` with the reason (a `Said`, keys of `load.toml`),
which learners read in the model pickers, in their language.

This module knows nothing about loading weights or about memory arithmetic.
"""

from __future__ import annotations

import json
import struct
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from playground.errors import CatalogError, InvalidRequestError, UnknownModelError
from playground.i18n import Said

BUILTIN_CATALOG = Path(__file__).with_name("catalog.toml")


class Task(StrEnum):
    CHAT = "chat"
    MATH = "math"
    CODE = "code"
    VISION = "vision"
    THINKING = "thinking"
    FIM = "fim"  # fill in the middle with the tokenizer's <|fim_prefix|> <|fim_suffix|> <|fim_middle|>, no template


@dataclass(frozen=True)
class Architecture:
    """The numbers of the language model that memory depends on."""

    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0

    @property
    def embedding_params(self) -> int:
        """Input embedding plus output head (one matrix when they are tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def expert_params(self) -> int:
        """Parameters of the routed MoE experts (gate, up and down projections)."""
        return self.layers * self.experts * 3 * self.hidden_size * self.moe_intermediate_size


class Precision(StrEnum):
    """The precision ladder, highest first. BF16 means 16-bit: float16 where bf16 is missing."""

    FP32 = "fp32"
    BF16 = "bf16"
    INT8 = "int8"
    NF4 = "nf4"

    def lower(self) -> Precision | None:
        """The next step down the ladder, or None at the bottom."""
        ladder = list(Precision)
        index = ladder.index(self)
        return ladder[index + 1] if index + 1 < len(ladder) else None


@dataclass(frozen=True)
class Range:
    """Valid values of one sampling number: `low <= x <= high` (`low < x` where `open_low`)."""

    low: float
    high: float
    open_low: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        return above and value <= self.high


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens: one definition for catalogue presets, UI controls and the API.

    temperature 0 means greedy; top_k 0 and min_p 0 mean off; seed None means a fresh random one.
    """

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 1024
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def validate(self) -> Sampling:
        """This sampling, or `InvalidRequestError` naming the number out of its range."""
        for name, limits in LIMITS.items():
            value = getattr(self, name)
            if value is None and name == "seed":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise InvalidRequestError("request.not_a_number", name=name, value=value)
            if name in WHOLE and not float(value).is_integer():
                raise InvalidRequestError("request.not_whole", name=name, value=value)
            if not limits.contains(value):
                if name in WHOLE:  # an open bound on whole numbers is the next one up, closed
                    raise InvalidRequestError("request.out_of_range_whole", name=name, value=value,
                                              low=int(limits.low) + limits.open_low, high=int(limits.high))
                raise InvalidRequestError("request.out_of_range_open" if limits.open_low else "request.out_of_range",
                                          name=name, value=value, low=limits.low, high=limits.high)
        return self


LIMITS: Mapping[str, Range] = MappingProxyType({
    "temperature": Range(0, 2),
    "top_p": Range(0, 1, open_low=True),
    "top_k": Range(0, 1_000_000),
    "min_p": Range(0, 1),
    "repetition_penalty": Range(0, 2, open_low=True),
    "max_new_tokens": Range(1, 1_048_576),
    "seed": Range(0, 2**63 - 1),
})
WHOLE = frozenset({"top_k", "max_new_tokens", "seed"})
# What a catalogue preset may set: a seed is a per-request choice, not a model's recommendation.
PRESET_FIELDS = frozenset(f.name for f in fields(Sampling)) - {"seed"}


@dataclass(frozen=True)
class Remote:
    """A model another server runs, reached through its OpenAI-compatible API (vLLM, SGLang, ...)."""

    base_url: str  # ending in /v1, e.g. "http://gpu-box:8000/v1"
    model: str  # the server's name for it, e.g. "Qwen/Qwen3-235B-A22B"
    api_key_env: str | None = None  # the environment variable holding the key, if the server wants one
    timeout_s: float = 120.0  # the longest wait for the server's next piece of the reply


@dataclass(frozen=True)
class ModelSpec:
    key: str
    source: str  # a Hub id or a local folder; for a remote model, the server's name for it
    tasks: frozenset[Task]
    family: str = ""
    params_billion: float | None = None
    active_params_billion: float | None = None
    context_length: int | None = None
    licence: str = ""
    architecture: Architecture | None = None
    sampling: Sampling = field(default_factory=Sampling)
    thinking_sampling: Sampling | None = None
    precision: Precision = Precision.BF16  # the top of this model's precision ladder
    unavailable: Said | None = None  # why this entry cannot be loaded (a broken local folder), if it cannot
    thinking_mode: str = "hybrid"  # for models with the thinking task: "hybrid" (a switch) or "always"
    remote: Remote | None = None  # served by another server (`backend = "openai"`), never loaded here

    @property
    def ladder(self) -> tuple[Precision, ...]:
        """The precisions this model may load at, highest first."""
        rungs = list(Precision)
        return tuple(rungs[rungs.index(self.precision) :])

    @property
    def thinks(self) -> bool:
        """It can think: hybrid Qwen3 (on or off as asked) and thinking-only models (always)."""
        return Task.THINKING in self.tasks

    @property
    def hybrid(self) -> bool:
        """Thinking can be switched on and off (`enable_thinking`); thinking-only models always think."""
        return self.thinks and self.thinking_mode == "hybrid"

    @property
    def is_vision(self) -> bool:
        return Task.VISION in self.tasks

    def window(self, context_limit: int | None = None) -> int | None:
        """Prompt + reply tokens: the smaller of the catalogue's context length and a limit (None: unknown)."""
        return min((x for x in (self.context_length, context_limit) if x), default=None)

    @property
    def is_local(self) -> bool:
        """Weights in a folder on this machine (not a Hub id, not a remote server)."""
        return self.remote is None and looks_local(self.source)

    def sampling_for(self, thinking: bool) -> Sampling:
        """The recommended preset for the chosen thinking mode."""
        if thinking and self.thinking_sampling is not None:
            return self.thinking_sampling
        return self.sampling


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, ModelSpec]

    def get(self, key: str) -> ModelSpec:
        try:
            return self.models[key]
        except KeyError:
            raise UnknownModelError(key, self.models) from None

    def with_task(self, task: Task) -> list[ModelSpec]:
        return [spec for spec in self.models.values() if task in spec.tasks]

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


def looks_local(source: str) -> bool:
    """A source is a local folder if it is written as a path, not as a Hub id `owner/name`."""
    return source.startswith(("/", "./", "../", "~")) or Path(source).expanduser().is_dir()


# --- validation (pure) ------------------------------------------------------------------

_MODEL_KEYS = {
    "source",
    "family",
    "tasks",
    "params_billion",
    "active_params_billion",
    "context_length",
    "licence",
    "architecture",
    "sampling",
    "precision",
    "thinking_mode",
}
_REMOTE_KEYS = {"backend", "base_url", "model", "api_key_env", "timeout_s"}
# What a remote entry may not say: the server holds the weights and picks their precision.
_LOCAL_ONLY_KEYS = {"source", "architecture", "precision"}
BACKENDS = ("local", "openai")
_ARCH_FIELDS = {f.name: f for f in fields(Architecture)}


def parse_catalog(data: Mapping[str, Any], origin: str = "catalogue") -> Catalog:
    """Validate parsed TOML into a `Catalog`. Raises `CatalogError` naming the bad entry."""
    models = data.get("models")
    if not isinstance(models, Mapping) or not models:
        raise CatalogError(f"{origin}: expected at least one [models.<key>] table.")
    unknown_top = set(data) - {"models"}
    if unknown_top:
        raise CatalogError(f"{origin}: unknown top-level tables {sorted(unknown_top)}.")
    specs = {key: _parse_model(key, entry, origin) for key, entry in models.items()}
    return Catalog(MappingProxyType(specs))


def _parse_model(key: str, entry: Any, origin: str) -> ModelSpec:
    where = f"{origin}: [models.{key}]"
    if not isinstance(entry, Mapping):
        raise CatalogError(f"{where} must be a table.")
    extra = set(entry) - _MODEL_KEYS - _REMOTE_KEYS
    if extra:
        raise CatalogError(f"{where}: unknown keys {sorted(extra)}; valid keys: {sorted(_MODEL_KEYS)}, and for a "
                           f"model on another server {sorted(_REMOTE_KEYS)}.")
    remote = _parse_remote(entry, where)
    source = remote.model if remote is not None else entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CatalogError(f"{where}: `source` (a Hugging Face repo id or a local folder) is required, or "
                           '`backend = "openai"` with `base_url` and `model` for a model on another server.')
    tasks = _parse_tasks(entry.get("tasks"), where)

    arch = None
    if "architecture" in entry:
        arch = _parse_architecture(entry["architecture"], where)
    elif remote is None and not looks_local(source):
        raise CatalogError(
            f"{where}: [architecture] is required for Hub models (only a local folder may "
            "leave it out; its config.json is read instead)."
        )

    sampling_table = dict(entry.get("sampling", {}))
    thinking_table = sampling_table.pop("thinking", None)
    sampling = _parse_sampling(sampling_table, f"{where}.sampling")
    thinking = _parse_sampling(thinking_table, f"{where}.sampling.thinking") if thinking_table else None
    thinking_mode = _typed(entry, "thinking_mode", str, where, "hybrid")
    if thinking_mode not in ("hybrid", "always"):
        raise CatalogError(f"{where}: `thinking_mode` must be 'hybrid' or 'always', got {thinking_mode!r}.")
    if thinking_mode == "always" and Task.THINKING not in tasks:
        raise CatalogError(f"{where}: `thinking_mode = \"always\"` needs 'thinking' in `tasks`.")
    if thinking is not None and Task.THINKING not in tasks:
        raise CatalogError(f"{where}: [sampling.thinking] given but `tasks` lacks 'thinking'.")

    return ModelSpec(
        key=key,
        source=source,
        tasks=tasks,
        family=_typed(entry, "family", str, where, ""),
        params_billion=_positive(entry, "params_billion", where),
        active_params_billion=_positive(entry, "active_params_billion", where),
        context_length=_positive(entry, "context_length", where, kind=int),
        licence=_typed(entry, "licence", str, where, ""),
        architecture=arch,
        sampling=sampling,
        thinking_sampling=thinking,
        thinking_mode=thinking_mode,
        precision=_parse_precision(entry.get("precision"), where),
        remote=remote,
    )


def _parse_remote(entry: Mapping[str, Any], where: str) -> Remote | None:
    """The server of a `backend = "openai"` entry; None for a local one (which may not use remote keys)."""
    backend = entry.get("backend", "local")
    if backend not in BACKENDS:
        raise CatalogError(f"{where}: `backend` must be one of {list(BACKENDS)}, got {backend!r}.")
    if backend == "local":
        stray = sorted(set(entry) & (_REMOTE_KEYS - {"backend"}))
        if stray:
            raise CatalogError(f'{where}: {stray} belong to a model on another server: add `backend = "openai"`.')
        return None
    stray = sorted(set(entry) & _LOCAL_ONLY_KEYS)
    if stray:
        raise CatalogError(f"{where}: a model on another server takes no {stray}: the server holds the weights "
                           "(name them with `model`).")
    base_url = entry.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise CatalogError(f'{where}: `base_url` must be the server\'s API address, like "http://gpu-box:8000/v1", '
                           f"got {base_url!r}.")
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise CatalogError(f'{where}: `model` (the server\'s name for the model, e.g. "Qwen/Qwen3-8B") is required.')
    key_env = entry.get("api_key_env")
    if key_env is not None and not (isinstance(key_env, str) and key_env.isidentifier()):
        raise CatalogError(f"{where}: `api_key_env` must be the name of an environment variable, got {key_env!r}.")
    timeout = _positive(entry, "timeout_s", where) or Remote.timeout_s
    return Remote(base_url=base_url.rstrip("/"), model=model.strip(), api_key_env=key_env, timeout_s=float(timeout))


def _parse_tasks(value: Any, where: str) -> frozenset[Task]:
    valid = [t.value for t in Task]
    if not isinstance(value, list) or not value:
        raise CatalogError(f"{where}: `tasks` must be a non-empty list drawn from {valid}.")
    try:
        return frozenset(Task(v) for v in value)
    except ValueError:
        raise CatalogError(f"{where}: unknown task in {value}; valid tasks: {valid}.") from None


def _parse_architecture(value: Any, where: str) -> Architecture:
    if not isinstance(value, Mapping):
        raise CatalogError(f"{where}.architecture must be a table.")
    extra = set(value) - set(_ARCH_FIELDS)
    if extra:
        raise CatalogError(f"{where}.architecture: unknown keys {sorted(extra)}.")
    missing = {name for name, f in _ARCH_FIELDS.items() if f.default is MISSING} - set(value)
    if missing:
        raise CatalogError(f"{where}.architecture: missing {sorted(missing)}.")
    kwargs: dict[str, Any] = {}
    for name, val in value.items():
        if name == "tie_word_embeddings":
            if not isinstance(val, bool):
                raise CatalogError(f"{where}.architecture.{name} must be true or false.")
        elif not (isinstance(val, int) and not isinstance(val, bool) and val >= 0):
            raise CatalogError(f"{where}.architecture.{name} must be a whole number >= 0, got {val!r}.")
        kwargs[name] = val
    arch = Architecture(**kwargs)
    for name in ("layers", "attention_heads", "kv_heads", "head_dim", "hidden_size", "vocab_size"):
        if getattr(arch, name) == 0:
            raise CatalogError(f"{where}.architecture.{name} must be positive.")
    if arch.attention_heads % arch.kv_heads:
        raise CatalogError(f"{where}.architecture: attention_heads must be a multiple of kv_heads.")
    if arch.experts and not (arch.experts_per_token and arch.moe_intermediate_size):
        raise CatalogError(
            f"{where}.architecture: MoE models need experts_per_token and moe_intermediate_size."
        )
    return arch


def _parse_sampling(value: Any, where: str) -> Sampling:
    if value is None:
        return Sampling()
    if not isinstance(value, Mapping):
        raise CatalogError(f"{where} must be a table.")
    extra = set(value) - PRESET_FIELDS
    if extra:
        raise CatalogError(f"{where}: unknown keys {sorted(extra)}; valid: {sorted(PRESET_FIELDS)}.")
    sampling = Sampling(**value)
    try:
        return sampling.validate()
    except InvalidRequestError as exc:
        raise CatalogError(f"{where}: {exc}") from None


def _parse_precision(value: Any, where: str) -> Precision:
    if value is None:
        return Precision.BF16
    try:
        return Precision(value)
    except ValueError:
        valid = [p.value for p in Precision]
        raise CatalogError(f"{where}: `precision` must be one of {valid}, got {value!r}.") from None


def _typed(entry: Mapping[str, Any], name: str, kind: type, where: str, default: Any) -> Any:
    value = entry.get(name, default)
    if not isinstance(value, kind):
        raise CatalogError(f"{where}: `{name}` must be a {kind.__name__}.")
    return value


def _positive(entry: Mapping[str, Any], name: str, where: str, kind: type = float) -> Any:
    value = entry.get(name)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok or (kind is int and not isinstance(value, int)):
        raise CatalogError(f"{where}: `{name}` must be a positive {kind.__name__}, got {value!r}.")
    return value


# --- loading (I/O) ----------------------------------------------------------------------


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalogue file (the built-in one by default).

    Entries whose `source` is a local folder get what they leave out (architecture numbers,
    parameter count, context length) from the folder's `config.json` and safetensors headers.
    Relative folder paths are resolved against the catalogue file's folder.
    """
    path = Path(path) if path is not None else BUILTIN_CATALOG
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"Catalogue file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc}).") from None
    models = data.get("models")
    broken: dict[str, Said] = {}
    if isinstance(models, Mapping):
        completed = {}
        for key, entry in models.items():
            completed[key], reason = _complete_local(entry, path.parent)
            if reason:
                broken[key] = reason
        data = {**data, "models": completed}
    catalog = parse_catalog(data, origin=str(path))
    if not broken:
        return catalog
    specs = {key: replace(spec, unavailable=broken.get(key)) for key, spec in catalog.models.items()}
    return Catalog(MappingProxyType(specs))


def _complete_local(entry: Any, base: Path) -> tuple[Any, Said | None]:
    """The entry with what its folder tells, and why the folder cannot be used (None if it can)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("source"), str):
        return entry, None  # let validation report it
    source = entry["source"]
    if not looks_local(source):
        return entry, None
    folder = Path(source).expanduser()
    if not folder.is_absolute():
        folder = (base / folder).resolve()
    entry = {**entry, "source": str(folder)}
    config_file = folder / "config.json"
    if not config_file.is_file():
        return entry, Said("load.no_config", {"folder": str(folder)})
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if "architecture" not in entry:
            entry["architecture"] = architecture_from_config(config)
        if "family" not in entry and config.get("model_type") in _FAMILY_OF_MODEL_TYPE:
            entry["family"] = _FAMILY_OF_MODEL_TYPE[config["model_type"]]
        if "context_length" not in entry and "max_position_embeddings" in _text_config(config):
            entry["context_length"] = _text_config(config)["max_position_embeddings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return entry, Said("load.bad_config", {"file": str(config_file), "error": f"{type(exc).__name__}: {exc}"})
    problem = _folder_problem(folder)
    if problem:
        return entry, problem
    try:  # headers only: cheap, and a damaged file is named now rather than at the first message
        count = count_safetensors_parameters(folder)
    except (OSError, ValueError, struct.error) as exc:
        problem = exc.said if isinstance(exc, DamagedWeights) else str(exc)
        return entry, Said("load.damaged_weights", {"folder": str(folder), "problem": problem})
    if "params_billion" not in entry and count:
        entry["params_billion"] = count / 1e9
    return entry, None


# A local vision model's family, where its entry leaves it out: patch sizes and grounding
# coordinates differ by family. (Text models stay unlabelled, "Local" in the pickers.)
_FAMILY_OF_MODEL_TYPE = {"qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl", "qwen3_vl_moe": "qwen3-vl"}


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Vision-language configs nest the language model's numbers under `text_config`."""
    return config.get("text_config") or config


def architecture_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The [architecture] table for a transformers `config.json` of a Qwen model."""
    text = _text_config(config)
    heads = text["num_attention_heads"]
    arch = {
        "layers": text["num_hidden_layers"],
        "attention_heads": heads,
        "kv_heads": text.get("num_key_value_heads") or heads,
        "head_dim": text.get("head_dim") or text["hidden_size"] // heads,
        "hidden_size": text["hidden_size"],
        "intermediate_size": text.get("intermediate_size", 0),
        "vocab_size": text["vocab_size"],
        "tie_word_embeddings": bool(
            text.get("tie_word_embeddings", config.get("tie_word_embeddings", False))
        ),
    }
    experts = text.get("num_experts") or text.get("num_local_experts")  # Hub files / transformers 5
    if experts:
        arch["experts"] = experts
        arch["experts_per_token"] = text["num_experts_per_tok"]
        arch["moe_intermediate_size"] = text["moe_intermediate_size"]
    return arch


MAX_SAFETENSORS_HEADER = 100 * 2**20  # bytes; real headers are kilobytes to a few megabytes


class DamagedWeights(ValueError):
    """A safetensors file that is cut off or is not one; `said` names it and says how."""

    def __init__(self, key: str, /, **params: Any):
        self.said = Said(key, params)
        super().__init__(str(self.said))


def count_safetensors_parameters(folder: Path) -> int:
    """Count parameters from the safetensors headers alone, without reading any weights.

    Each header is checked against its file (its length, its JSON, every tensor's bytes inside
    the file), so a truncated or random file raises `DamagedWeights` naming it, never a MemoryError
    from a length read out of random bytes.
    """
    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise DamagedWeights("load.empty_file", file=file.name)
            (header_len,) = struct.unpack("<Q", head)
            if header_len > min(size - 8, MAX_SAFETENSORS_HEADER):
                raise DamagedWeights("load.not_safetensors", file=file.name, header=header_len, size=size)
            try:
                header = json.loads(fh.read(header_len))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise DamagedWeights("load.unreadable_header", file=file.name) from None
        data = size - 8 - header_len
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if not isinstance(info, dict) or info.get("data_offsets", [0, data + 1])[1] > data:
                raise DamagedWeights("load.cut_off", file=file.name, tensor=name)
            n = 1
            for dim in info["shape"]:
                n *= dim
            total += n
    return total


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def _folder_problem(folder: Path) -> Said | None:
    """Why a checkpoint folder cannot load (weights or tokenizer missing or damaged), or None."""
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        return Said("load.no_weights", {"folder": str(folder)})
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return Said("load.no_tokenizer", {"folder": str(folder), "files": ", ".join(TOKENIZER_FILES)})
    return None
