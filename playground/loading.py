"""Loads catalogue models with transformers, at a given precision, onto the local device.

This is the registry's `Loader` for the embedded backend: it maps a precision to dtype and
bitsandbytes settings, turns download and out-of-memory failures into messages a user can
act on (keys of `locales/en/load.toml`), and measures the footprint of what it loaded. It
decides nothing about whether a model fits; the registry does that before calling it.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import Any

import huggingface_hub
import torch
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from playground import zerogpu
from playground.backends import kv_token_budget, local_backend
from playground.catalog import ModelSpec
from playground.devices import default_device, half_dtype, is_out_of_memory, release_memory
from playground.errors import ModelLoadError, OutOfMemory
from playground.i18n import Said
from playground.memory import DeviceMemory, Precision, format_bytes, probe, spread
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
    """Loads with `from_pretrained` onto one device (all visible GPUs with device_map auto; within
    `--memory-limit` through `max_memory` where one is set), or Apple's GPU, or the CPU.

    Each loaded model comes with the backend that serves it (`playground.backends`), built from
    the settings: batched or serial decoding, with the KV-cache budget the registry granted.
    """

    def __init__(self, settings: Settings | None = None, hub_endpoint: str | None = None):
        self.settings = settings or Settings()
        self.device = default_device() if self.settings.device == "auto" else self.settings.device
        self.hub_endpoint = hub_endpoint  # None: huggingface_hub's own (HF_ENDPOINT, or the Hub)
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
        # On ZeroGPU a model loads on the CPU and is moved with .to("cuda"), which `spaces` records for its GPU
        # calls (accelerate's device map reaches CUDA itself there).
        device_map = None if zerogpu.ACTIVE else "auto" if self.device == "cuda" else self.device
        kwargs: dict[str, Any] = dict(
            dtype=dtype,
            device_map=device_map,
            quantization_config=quantization_config(precision, half_dtype(self.device)),
        )
        if device_map == "auto" and self.memory_limit is not None:  # enforced, not only counted
            free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
            kwargs["max_memory"] = spread(self.memory_limit - sum(self._footprints.values()), free)
        # Ask the Hub once: a gated, missing or forbidden repo is said at once; unreachable, the Hub client
        # would retry each file for about half a minute, so the local cache alone is used (or fails at once).
        access = HubAccess.OK if spec.is_local else hub_access(spec.source, self.hub_endpoint)
        if access in (HubAccess.GATED, HubAccess.MISSING, HubAccess.FORBIDDEN):
            raise ModelLoadError(hub_refusal(spec, access))
        offline = access is HubAccess.UNREACHABLE
        log.info("loading %s (%s) at %s on %s%s", spec.key, spec.source, precision, self.device,
                 " from the local cache: the Hub is unreachable" if offline else "")
        try:
            with _FROM_PRETRAINED, reporting(progress or LoadProgress()) as bar:
                processor = processor_class.from_pretrained(spec.source, local_files_only=offline)
                model = model_class.from_pretrained(spec.source, local_files_only=offline, tqdm_class=bar, **kwargs)
        except Exception as exc:
            release_memory(self.device)
            if is_out_of_memory(exc):
                raise OutOfMemory("load.oom_loading", model=spec.key, precision=str(precision)) from exc
            refused = refusal_in(exc)
            if refused is not None:
                raise ModelLoadError(hub_refusal(spec, refused)) from exc
            reason = Said("load.hub_unreachable") if offline else None
            raise ModelLoadError(download_failure_message(spec, exc, reason)) from exc
        if zerogpu.ACTIVE:
            model = model.to("cuda")
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
        capped = Said("load.device_capped", {"device": memory.words, "limit": format_bytes(total)})
        return DeviceMemory(memory.kind, f"{memory.name} (capped at {format_bytes(total)})", free, total, capped)


class HubAccess(StrEnum):
    """What the Hub says about a repo before a download: asked through huggingface_hub's own client, so its
    token (HF_TOKEN), proxies (HTTPS_PROXY), mirror (HF_ENDPOINT) and offline mode apply."""

    OK = "ok"
    GATED = "gated"  # its licence must be accepted, and HF_TOKEN set to that account's token
    MISSING = "missing"  # no such repo, or a private one this token cannot see
    FORBIDDEN = "forbidden"  # the token may not read it
    UNREACHABLE = "unreachable"  # offline, or no answer: the local cache alone is used


def hub_access(repo_id: str, endpoint: str | None = None, timeout_s: float = 5.0) -> HubAccess:
    """Ask the Hub about `repo_id`'s config.json (a HEAD request, nothing downloaded)."""
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return HubAccess.UNREACHABLE
    url = huggingface_hub.hf_hub_url(repo_id, "config.json", endpoint=endpoint)
    try:
        huggingface_hub.get_hf_file_metadata(url, timeout=timeout_s, endpoint=endpoint)
    except GatedRepoError:
        return HubAccess.GATED
    except RepositoryNotFoundError:
        return HubAccess.MISSING
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return HubAccess.FORBIDDEN
        if status == 404:  # the repo is there without a config.json: let the download say what is missing
            return HubAccess.OK
        log.warning("the Hub answered %s about %s; trying the local cache", status, repo_id)
        return HubAccess.UNREACHABLE
    except Exception as exc:  # no connection, a timeout, a proxy that refused: whatever the client raises
        log.warning("the Hub is unreachable (%s: %s); using the local cache", type(exc).__name__, exc)
        return HubAccess.UNREACHABLE
    return HubAccess.OK


def hub_refusal(spec: ModelSpec, access: HubAccess) -> Said:
    """What to do when the Hub refuses `spec`'s repo."""
    key = {HubAccess.GATED: "load.gated", HubAccess.FORBIDDEN: "load.forbidden"}.get(access, "load.missing")
    return Said(key, {"model": spec.key, "source": spec.source, "page": f"https://huggingface.co/{spec.source}"})


def refusal_in(exc: BaseException) -> HubAccess | None:
    """The Hub's refusal somewhere in the chain of `exc` (transformers wraps the client's errors), if any."""
    seen = exc
    while seen is not None:
        if isinstance(seen, GatedRepoError):
            return HubAccess.GATED
        if isinstance(seen, RepositoryNotFoundError):
            return HubAccess.MISSING
        seen = seen.__cause__ or seen.__context__
    return None


def download_failure_message(spec: ModelSpec, exc: BaseException, reason: Said | None = None) -> Said:
    """What went wrong reading `spec`'s weights and what to do; `reason` is ours where we know it, else the
    library's own first line."""
    said = reason or (str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    if spec.is_local:
        return Said("load.folder_failed", {"model": spec.key, "source": spec.source, "reason": said})
    folder = "./models/" + spec.source.split("/")[-1]
    return Said("load.hub_failed", {"model": spec.key, "source": spec.source, "reason": said, "folder": folder})
