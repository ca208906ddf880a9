from __future__ import annotations

import pytest
import torch

from molvae.device import autocast, has_fast_bf16, resolve_device, resolve_precision
from molvae.errors import ConfigError


def test_auto_precision_is_bf16_exactly_where_the_hardware_has_it() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if has_fast_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"


def test_fast_bf16_follows_the_cpu_capabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    for caps, expected in (({"avx512_bf16": True}, True), ({"amx_bf16": True}, True),
                           ({"avx512_f": True, "avx2": True}, False)):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda caps=caps: caps)
        assert has_fast_bf16(torch.device("cpu")) is expected


def test_unknown_precision_and_device_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="precision = 'fp16'"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="expected auto, cpu"):
        resolve_device("tpu")


def test_bf16_autocast_runs_matrix_products_in_bf16_and_fp32_is_untouched() -> None:
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert torch.equal(a @ b, a @ b) and (a @ b).dtype == torch.float32
