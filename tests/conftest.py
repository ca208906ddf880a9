from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own token-id cache folder."""
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def small_csv() -> Path:
    """300 MOSES test-set molecules with logP, qed and SAS columns."""
    return DATA / "small.csv"


@pytest.fixture
def tiny_config_path() -> Path:
    return ROOT / "configs" / "tiny.toml"
