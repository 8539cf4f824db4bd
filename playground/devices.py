"""Facts about the device models run on: which one, which 16-bit dtype, and how it reports running out.

Small helpers shared by the loader and the decoders; nothing here loads or decides anything.
"""

from __future__ import annotations

import gc

import torch


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def half_dtype(device: str) -> torch.dtype:
    """bfloat16 where the hardware has it; float16 on older GPUs (before Ampere)."""
    if device == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's typed OOM, or the CPU allocator's RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def release_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
