import math

import pytest
import torch

from molvae.checks import check_count, check_number, seeded
from molvae.errors import ConfigError


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3", None])
def test_check_count_rejects_what_is_not_a_positive_int(value: object) -> None:
    with pytest.raises(ConfigError, match="expected an integer > 0"):
        check_count("n", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf, False, "0.7"])
def test_check_number_rejects_negative_non_finite_and_non_numbers(value: object) -> None:
    with pytest.raises(ConfigError, match="expected a finite number >= 0"):
        check_number("temperature", value)  # type: ignore[arg-type]


def test_check_number_strict_excludes_the_bound_and_accepts_above() -> None:
    with pytest.raises(ConfigError, match="> 0"):
        check_number("radius", 0.0, strict=True)
    check_number("radius", 0.5, strict=True)
    check_count("n", 3)


def test_seeded_generators_repeat_and_unseeded_ones_differ() -> None:
    assert torch.equal(torch.randn(4, generator=seeded(5)), torch.randn(4, generator=seeded(5)))
    assert not torch.equal(torch.randn(4, generator=seeded(None)), torch.randn(4, generator=seeded(None)))
