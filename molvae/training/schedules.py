"""KL-weight and learning-rate schedules as pure functions of the optimizer step."""

from __future__ import annotations

import math

from molvae.config import TrainConfig


def kl_weight_at(step: int, cfg: TrainConfig) -> float:
    """Beta at ``step``: constant (kl_weight), linear or sigmoid warm-up from kl_start to kl_weight over
    kl_warmup_steps, or cyclical (the warm-up repeated every kl_cycle_steps, held at kl_weight in between)."""
    start, end, warm = cfg.kl_start, cfg.kl_weight, cfg.kl_warmup_steps
    if cfg.kl_schedule == "constant":
        return end
    if cfg.kl_schedule == "cyclical":
        step = step % cfg.kl_cycle_steps
    progress = min(1.0, step / warm)
    if cfg.kl_schedule == "sigmoid":  # logistic curve centred on the middle of the warm-up, steepness 12/warm
        progress = 1.0 / (1.0 + math.exp(-12.0 * (progress - 0.5)))
        progress = 1.0 if step >= warm else progress
    return start + (end - start) * progress


def lr_at(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step``: constant, or cosine from lr to lr_min over ``total_steps``."""
    if cfg.lr_schedule == "constant" or total_steps <= 0:
        return cfg.lr
    progress = min(1.0, step / total_steps)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + math.cos(math.pi * progress))
