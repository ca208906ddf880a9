"""Desirability transforms of scoring files: a component's raw value -> a number in [0, 1] (1 = what is wanted).

| type | parameters | value |
|---|---|---|
| identity | | the raw value, clipped to [0, 1] (QED, similarity) |
| linear | low, high | 0 at low, 1 at high, straight between (high < low: falling) |
| sigmoid | low, high | a smooth step: about 0.007 at low, 0.5 halfway, 0.993 at high |
| reverse_sigmoid | low, high | 1 - sigmoid: high values unwanted (SA score, MW) |
| window | low, high, soft | 1 inside [low, high], falling smoothly to ~0.007 at ``soft`` outside (default |
| | | soft: a quarter of the window, at least 0.1) |
| step | low, high | 1 inside [low, high], else 0 |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from molvae.errors import ConfigError

Transform = Callable[[float], float]
TYPES = ("identity", "linear", "sigmoid", "reverse_sigmoid", "window", "step")
STEEPNESS = 10.0  # logistic slope over a step's width: 1 / (1 + e^5) ~ 0.0067 at its ends


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, x))))


def sigmoid(low: float, high: float) -> Transform:
    """A smooth step from low (~0) to high (~1)."""
    mid, width = (low + high) / 2, high - low
    return lambda x: _logistic(STEEPNESS * (x - mid) / width)


def window(low: float, high: float, soft: float) -> Transform:
    """1 inside [low, high], a smooth fall of width ``soft`` on each side."""
    rise, fall = sigmoid(low - soft, low), sigmoid(high + soft, high)
    return lambda x: 1.0 if low <= x <= high else rise(x) if x < low else fall(x)


def build_transform(spec: Any, where: str) -> Transform:
    """The transform of a component's ``transform`` table; ConfigError naming ``where`` and the bad key."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: transform = {spec!r}; expected a table such as {{ type = 'sigmoid', low = 0, "
                          "high = 1 }")
    kind = spec.get("type", "identity")
    if kind not in TYPES:
        raise ConfigError(f"{where}: transform type = {kind!r}; expected one of {TYPES}")
    if kind == "identity":
        _check_keys(spec, {"type"}, where)
        return lambda x: min(1.0, max(0.0, x))
    _check_keys(spec, {"type", "low", "high", "soft"} if kind == "window" else {"type", "low", "high"}, where)
    low, high = (_number(spec, key, where) for key in ("low", "high"))
    if low == high or (kind != "linear" and low > high):
        raise ConfigError(f"{where}: transform {kind} needs low < high, got low = {low}, high = {high}")
    if kind == "linear":
        return lambda x: min(1.0, max(0.0, (x - low) / (high - low)))
    if kind == "sigmoid":
        return sigmoid(low, high)
    if kind == "reverse_sigmoid":
        rising = sigmoid(low, high)
        return lambda x: 1.0 - rising(x)
    if kind == "step":
        return lambda x: float(low <= x <= high)
    soft = _number(spec, "soft", where) if "soft" in spec else max(0.1, (high - low) / 4)
    if soft <= 0:
        raise ConfigError(f"{where}: transform window needs soft > 0, got {soft}")
    return window(low, high, soft)


def _check_keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: transform {spec.get('type', 'identity')} has unknown key(s) {unknown}; expected "
                          f"{sorted(allowed)}")


def _number(spec: dict[str, Any], key: str, where: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: transform {spec.get('type')} needs {key} = a number, got {value!r}")
    return float(value)
