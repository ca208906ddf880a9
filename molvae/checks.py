"""Checks of the plain arguments the Python API takes (counts, finite numbers) and seeded generators: one clear
ConfigError instead of a traceback deep in torch."""

from __future__ import annotations

import math

import torch

from molvae.errors import ConfigError


def seeded(seed: int | None) -> torch.Generator:
    """A CPU generator seeded by ``seed``, or by a random seed when it is None."""
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, (1,))))
    return generator


def check_number(name: str, value: float, low: float = 0.0, strict: bool = False) -> None:
    """``value`` is a finite number >= low (> low when ``strict``), not a bool."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        raise ConfigError(f"{name} = {value!r}; expected a finite number {'>' if strict else '>='} {low}")


def check_count(name: str, value: int) -> None:
    """``value`` is an int > 0, not a bool."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} = {value!r}; expected an integer > 0")
