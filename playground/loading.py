"""Loads catalogue models with transformers, at a given precision, onto the local device.

This is the registry's `Loader` for the embedded backend: it maps a precision to dtype and
bitsandbytes settings, turns download and out-of-memory failures into messages a user can
act on, and measures the footprint of what it loaded. It decides nothing about whether a
model fits; the registry does that before calling it.
"""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlparse

import huggingface_hub
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from playground.backends import kv_token_budget, local_backend
from playground.catalog import ModelSpec
from playground.devices import default_device, half_dtype, is_out_of_memory, release_memory
from playground.errors import ModelLoadError, OutOfMemory
from playground.memory import DeviceMemory, Precision, format_bytes, probe
from playground.progress import reporting
from playground.registry import LoadedModel, LoadProgress
from playground.settings import Settings

log = logging.getLogger(__name__)

# `from_pretrained` sets torch's process-wide default dtype while it builds a model, so two
# loads at once (two columns, two users) can build one model half in the other's dtype. Loads
# take turns; decoding meanwhile is unaffected (its tensors are given their dtypes).
_FROM_PRETRAINED = threading.Lock()


def quantization_config(precision: Precision, compute_dtype: torch.dtype) -> BitsAndBytesConfig | None:
    if precision is Precision.INT8:
        return BitsAndBytesConfig(load_in_8bit=True)
    if precision is Precision.NF4:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    return None


class TransformersLoader:
    """Loads with `from_pretrained` onto one device (all visible GPUs with device_map auto).

    Each loaded model comes with the backend that serves it (`playground.backends`), built from
    the settings: batched or serial decoding, with the KV-cache budget the registry granted.
    """

    def __init__(self, settings: Settings | None = None, hub_endpoint: str | None = None):
        self.settings = settings or Settings()
        self.device = default_device() if self.settings.device == "auto" else self.settings.device
        self.hub_endpoint = hub_endpoint or huggingface_hub.constants.ENDPOINT
        # A cap on what the playground may use, for a machine it shares (a workshop GPU that
        # also runs other things); models count against it with their measured footprint.
        self.memory_limit = self.settings.memory_limit_bytes
        self._footprints: dict[int, int] = {}
        if self.device == "cuda":
            # PyTorch picks cuDNN attention for 16-bit SDPA on recent GPUs; its per-call CPU cost
            # (about 1 ms a layer) makes eager decoding CPU-bound: 12 vs 33 tok/s for an 8B model.
            torch.backends.cuda.enable_cudnn_sdp(False)

    def kv_tokens(self, spec: ModelSpec) -> tuple[int, int]:
        return kv_token_budget(spec, self.settings, self.device)

    def load(self, spec: ModelSpec, precision: Precision, kv_tokens: int,
             progress: LoadProgress | None = None) -> LoadedModel:
        dtype = torch.float32 if precision is Precision.FP32 else half_dtype(self.device)
        model_class, processor_class = AutoModelForCausalLM, AutoTokenizer
        if spec.is_vision:
            # Imported here: the image processors pull in torchvision, seconds of start-up
            # that text-only use never needs.
            from transformers import AutoModelForImageTextToText, AutoProcessor

            model_class, processor_class = AutoModelForImageTextToText, AutoProcessor
        kwargs = dict(
            dtype=dtype,
            device_map="auto" if self.device == "cuda" else "cpu",
            quantization_config=quantization_config(precision, half_dtype(self.device)),
        )
        # Unreachable, the Hub client retries each file for about half a minute; look once,
        # and if it cannot be reached use the local cache alone (or fail at once).
        offline = not spec.is_local and not hub_reachable(self.hub_endpoint)
        log.info("loading %s (%s) at %s on %s%s", spec.key, spec.source, precision, self.device,
                 " from the local cache: the Hub is unreachable" if offline else "")
        try:
            with _FROM_PRETRAINED, reporting(progress or LoadProgress()) as bar:
                processor = processor_class.from_pretrained(spec.source, local_files_only=offline)
                model = model_class.from_pretrained(spec.source, local_files_only=offline, tqdm_class=bar, **kwargs)
        except Exception as exc:
            release_memory(self.device)
            if is_out_of_memory(exc):
                raise OutOfMemory(f"Out of memory while loading {spec.key} at {precision}.") from exc
            reason = "the Hugging Face Hub is unreachable and the model is not in the local cache" if offline else None
            raise ModelLoadError(download_failure_message(spec, exc, reason)) from exc
        model.eval()
        if progress is not None:
            progress.report("warm-up", 0, None)
        backend = local_backend(spec, precision, model, processor, self.device, self.settings, kv_tokens)
        loaded = LoadedModel(model=model, processor=processor, footprint=model.get_memory_footprint(),
                             device=self.device, backend=backend)
        self._footprints[id(loaded)] = loaded.footprint
        return loaded

    def unload(self, loaded: LoadedModel) -> None:
        self._footprints.pop(id(loaded), None)
        if loaded.backend is not None:
            loaded.backend.close()
        loaded.model = loaded.processor = loaded.backend = None
        release_memory(self.device)

    def memory(self) -> DeviceMemory:
        memory = probe(self.device)
        if self.memory_limit is None:
            return memory
        total = min(memory.total, self.memory_limit)
        free = min(memory.free, total - sum(self._footprints.values()))
        return DeviceMemory(memory.kind, f"{memory.name} (capped at {format_bytes(total)})", free, total)


def hub_reachable(endpoint: str, timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub (or the mirror HF_ENDPOINT names) opens quickly."""
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def download_failure_message(spec: ModelSpec, exc: BaseException, reason: str | None = None) -> str:
    reason = reason or (str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    if spec.is_local:
        return (
            f"Could not load {spec.key} from the folder {spec.source}: {reason}. Check that the "
            "folder holds a complete transformers checkpoint (config.json, tokenizer files, "
            "*.safetensors)."
        )
    folder = "./models/" + spec.source.split("/")[-1]
    return (
        f"Could not load {spec.key} from the Hugging Face Hub repo {spec.source}: {reason}. "
        "If this machine is offline or the Hub is unreachable, download the model elsewhere "
        f"(`hf download {spec.source} --local-dir {folder}`), copy the folder here, and give "
        f"its path as the `source` of a catalogue entry (see the README, \"Local checkpoints\")."
    )
