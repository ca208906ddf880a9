"""PyTorch distributed (torchrun) awareness: process group set-up, rank roles and the few collectives training needs.

Under ``torchrun`` the environment holds RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them
everything here is a no-op for a single process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

from molvae.device import resolve_device
from molvae.errors import ConfigError, MolVAEError

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: rank among world_size processes, local_rank on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where collective tensors live (NCCL needs them on the GPU)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_name: str, timeout_minutes: int = 120) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU) and pick this process's device.

    Single process (no WORLD_SIZE, or 1): no group, ``resolve_device(device_name)``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), resolve_device(device_name)
    try:
        ctx = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"WORLD_SIZE={world_size} but RANK/LOCAL_RANK are missing or not integers; start "
                          "distributed runs with torchrun") from exc
    device = resolve_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
        ctx = Distributed(ctx.rank, ctx.world_size, ctx.local_rank, str(device))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=timeout_minutes))
    return ctx, device


def shutdown(ctx: Distributed) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Distributed) -> None:
    if ctx.enabled:
        dist.barrier()


def on_main(ctx: Distributed, func: Callable[[], T]) -> T | None:
    """Run ``func`` on rank 0 only (None elsewhere); if it fails with a molvae error, every rank raises the same
    error instead of waiting forever."""
    if not ctx.enabled:
        return func()
    result: T | None = None
    message: list[str | None] = [None]
    if ctx.is_main:
        try:
            result = func()
        except MolVAEError as exc:
            message = [f"{type(exc).__name__}\0{exc}"]
    dist.broadcast_object_list(message, src=0)
    if message[0] is not None:
        if ctx.is_main:
            raise RuntimeError("unreachable")  # pragma: no cover
        kind, text = message[0].split("\0", 1)
        from molvae import errors

        raise getattr(errors, kind, MolVAEError)(text)
    return result


def main_first(ctx: Distributed, func: Callable[[], T]) -> T:
    """Run ``func`` on rank 0, then on the other ranks (e.g. rank 0 builds a cache the others read); a molvae error
    on rank 0 is raised on every rank."""
    result = on_main(ctx, func)
    return result if ctx.is_main else func()  # type: ignore[return-value]


def any_true(ctx: Distributed, flags: list[bool]) -> list[bool]:
    """Element-wise OR of boolean flags across ranks (so every rank takes the same decision)."""
    if not ctx.enabled:
        return flags
    tensor = torch.tensor([float(f) for f in flags], device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [bool(v) for v in tensor.tolist()]


def mean_over_ranks(ctx: Distributed, values: dict[str, float]) -> dict[str, float]:
    """Mean of each value across ranks."""
    if not ctx.enabled:
        return values
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return {k: v / ctx.world_size for k, v in zip(keys, tensor.tolist())}
