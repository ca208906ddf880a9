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


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for 'bf16', a no-op for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
