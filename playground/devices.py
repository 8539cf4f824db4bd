"""Facts about the device models run on: which one, which 16-bit dtype, and how it reports running out.

Small helpers shared by the loader and the decoders; nothing here loads or decides anything.
"""

from __future__ import annotations

import gc

import torch


def default_device() -> str:
    """CUDA GPUs where there are any, else Apple's GPU (MPS), else the CPU."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def half_dtype(device: str) -> torch.dtype:
    """bfloat16 where the hardware has it; float16 on older GPUs (before Ampere) and on Apple's GPU."""
    if (device == "cuda" and not torch.cuda.is_bf16_supported()) or device == "mps":
        return torch.float16
    return torch.bfloat16


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's typed OOM, or the CPU allocator's or MPS's RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in str(exc) or "MPS backend out of memory"
                                              in str(exc))


def release_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    elif device == "mps":
        torch.mps.empty_cache()
