from __future__ import annotations

from pathlib import Path

import pytest

from molvae.config import Config, load_config, parse_duration, to_toml
from molvae.errors import ConfigError

ROOT = Path(__file__).parent.parent


def test_default_toml_is_the_built_in_default_plus_the_property_columns_of_data_zinc_csv() -> None:
    default = load_config(ROOT / "configs" / "default.toml")
    assert default == Config().with_overrides({"properties": "logP,qed,SAS"})


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "configs").glob("*.toml")))
def test_shipped_configs_round_trip_through_toml(name: str, tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / f"{name}.toml")
    (tmp_path / "c.toml").write_text(to_toml(config))
    assert load_config(tmp_path / "c.toml") == config


def test_unknown_key_is_rejected_naming_it_and_the_accepted_keys(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[model]\nlatent_dims = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['latent_dims'\] in \[model\]; accepted: .*latent_dim"):
        load_config(tmp_path / "c.toml")


def test_unknown_table_and_bad_toml_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[modle]\n")
    with pytest.raises(ConfigError, match="unknown table"):
        load_config(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text("[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "b.toml")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"latent_dim": -1}, "latent_dim = -1"),
        ({"batch_size": 0}, "batch_size = 0"),
        ({"lr": 0.0}, "lr = 0.0"),
        ({"embedding": "words"}, "embedding = 'words'"),
        ({"device": "gpu"}, "device = 'gpu'"),
        ({"word_dropout": 1.5}, "word_dropout = 1.5"),
        ({"sample_temperature": 0.0}, "sample_temperature = 0.0"),
        ({"max_time": "ten minutes"}, "max_time = 'ten minutes'"),
        ({"latent_dim": 2.5}, "should be of type int"),
        ({"no_such_setting": 1}, "unknown setting 'no_such_setting'"),
    ],
)
def test_bad_values_are_rejected_before_any_work(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config().with_overrides(override)


def test_overrides_and_none_values() -> None:
    config = Config().with_overrides({"latent_dim": 32, "lr": None, "strict": True})
    assert config.model.latent_dim == 32 and config.train.lr == Config().train.lr and config.data.strict


def test_parse_duration() -> None:
    assert parse_duration("45s") == 45 and parse_duration("30m") == 1800 and parse_duration("2h") == 7200
    assert parse_duration("90") == 90 and parse_duration("") is None
    with pytest.raises(ConfigError):
        parse_duration("-3m")


def test_bundled_config_is_the_bundled_models_config() -> None:
    from molvae import MolVAE

    assert load_config(ROOT / "configs" / "bundled.toml") == MolVAE.load().config
