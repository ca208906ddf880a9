"""Device and precision choices, checked before any work starts."""

from __future__ import annotations

import contextlib

import torch

from molvae.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'; a clear error when it is not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device = {name!r}, but this machine has no CUDA GPU visible to torch; use cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    raise ConfigError(f"device = {name!r}; expected auto, cpu, cuda or cuda:N")


DECODE_PRECISIONS = ("fp32", "bf16", "auto")


def has_fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run natively here: a CUDA GPU with bf16, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = torch.cpu.get_capabilities()
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def resolve_precision(name: str, device: torch.device) -> str:
    """'fp32', 'bf16', or 'auto' (bf16 where ``has_fast_bf16``, else fp32); a clear error for anything else."""
    if name not in DECODE_PRECISIONS:
        raise ConfigError(f"precision = {name!r}; expected one of {', '.join(DECODE_PRECISIONS)}")
    if name == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return name


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for 'bf16', a no-op for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
