from __future__ import annotations

from pathlib import Path

from molvae.config import load_config
from molvae.training.validation import collapse_warning


def test_collapse_warning_after_warm_up_when_few_latent_units_are_active(tiny_config_path: Path) -> None:
    config = load_config(tiny_config_path).with_overrides({"latent_dim": 64, "kl_warmup_steps": 100})
    collapsed = {"active_units": 5, "kl": 0.8}
    message = collapse_warning(collapsed, 200, config)
    assert message and "5 of 64 latent units active" in message and "--free-bits" in message
    assert collapse_warning(collapsed, 50, config) is None  # still warming up
    assert collapse_warning({"active_units": 16, "kl": 20.0}, 200, config) is None
    assert collapse_warning({}, 200, config) is None
