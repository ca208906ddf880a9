"""Settings as frozen dataclasses, loaded from TOML with unknown keys rejected.

A config file has three tables, ``[data]``, ``[model]`` and ``[train]``. Every field name is unique across the
tables, so each maps one to one onto a CLI flag (``latent_dim`` <-> ``--latent-dim``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from molvae.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EMBEDDINGS = ("onehot", "identity", "learned")
KL_SCHEDULES = ("constant", "linear", "sigmoid", "cyclical")
LR_SCHEDULES = ("constant", "cosine")
PRECISIONS = ("fp32", "bf16")
AUGMENTS = ("none", "encoder", "both")  # randomized SMILES: molvae.training.augment
PRIORS = ("flow", "none")  # the prior fitted when a run ends: molvae.training.run_prior


def _check(condition: bool, name: str, value: Any, accepted: str) -> None:
    if not condition:
        raise ConfigError(f"{name} = {value!r} is not allowed; expected {accepted}")


def _check_positive_ints(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, name, value, "an integer > 0")


def _check_fraction(name: str, value: Any, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value < 1.0
    ok = ok and (value > 0 if low_open else True)
    _check(ok, name, value, "a number in (0, 1)" if low_open else "a number in [0, 1)")


@dataclass(frozen=True)
class DataConfig:
    """How a SMILES file becomes training data."""

    smiles_column: str | None = None  # None: 'smiles' in any case, else the first column
    max_length: int = 100  # SMILES tokens per molecule, begin/end tokens not counted
    val_fraction: float = 0.05  # held-out share of the molecules, drawn by seed
    strict: bool = False  # fail at the first bad row instead of skipping and reporting it
    properties: str = ""  # numeric columns the property predictor learns, comma-separated ('logP,qed,SAS'); '' none
    kekule: bool = True  # read and write Kekulé SMILES (C1=CC=CC=C1, no aromatic tokens) instead of aromatic ones
    standardize: str = "none"  # 'always': largest fragment, neutralized, no stereo or isotopes, before tokenizing

    def __post_init__(self) -> None:
        _check_positive_ints(self, ("max_length",))
        _check(self.standardize in ("none", "always"), "standardize", self.standardize, "'none' or 'always'")
        _check_fraction("val_fraction", self.val_fraction, low_open=True)
        names = property_names(self.properties)
        _check(len(set(names)) == len(names), "properties", self.properties, "distinct column names")

    @property
    def property_list(self) -> list[str]:
        return property_names(self.properties)


def property_names(text: str) -> list[str]:
    """'logP, qed,SAS' -> ['logP', 'qed', 'SAS'] (blank entries dropped)."""
    if not isinstance(text, str):
        raise ConfigError(f"properties = {text!r}; expected comma-separated column names, e.g. 'logP,qed,SAS'")
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the VAE (sizes only; the vocabulary size comes from the data)."""

    embedding: str = "onehot"  # onehot: frozen identity; identity: trainable identity init; learned: random init
    embedding_dim: int = 64  # used by 'learned' only; the others use the vocabulary size
    encoder_hidden: int = 256
    encoder_layers: int = 1
    encoder_bidirectional: bool = True
    encoder_dropout: float = 0.0
    latent_dim: int = 64
    decoder_hidden: int = 256
    decoder_layers: int = 2
    decoder_dropout: float = 0.0
    predictor_hidden: int = 128  # width of the property predictor's two hidden layers (used with data.properties)

    def __post_init__(self) -> None:
        _check(self.embedding in EMBEDDINGS, "embedding", self.embedding, f"one of {EMBEDDINGS}")
        _check_positive_ints(
            self,
            ("embedding_dim", "encoder_hidden", "encoder_layers", "latent_dim", "decoder_hidden", "decoder_layers",
             "predictor_hidden"),
        )
        _check_fraction("encoder_dropout", self.encoder_dropout)
        _check_fraction("decoder_dropout", self.decoder_dropout)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, KL schedule, stopping, logging and hardware."""

    batch_size: int = 64
    lr: float = 2e-3
    lr_schedule: str = "cosine"  # constant | cosine (to lr_min over max_steps, else over the epochs)
    lr_min: float = 1e-5
    clip_grad: float = 50.0  # max global gradient norm; 0 turns clipping off
    epochs: int = 10
    max_steps: int = 6_000  # 0: no step limit; 6,000 steps of the default model: ~30 minutes on 2 CPU cores
    max_time: str = ""  # '' : no time limit; else '45s', '30m', '2h' or seconds
    kl_schedule: str = "linear"  # constant | linear | sigmoid | cyclical
    kl_start: float = 0.0  # beta at step 0 (linear, sigmoid, start of each cycle)
    kl_weight: float = 1.0  # final beta; units: see molvae.model.vae.vae_loss
    kl_warmup_steps: int = 3_000  # steps from kl_start to kl_weight (per cycle for cyclical)
    kl_cycle_steps: int = 20_000  # cyclical only: length of one cycle
    free_bits: float = 0.4  # per-dimension KL floor in nats (0: off); keeps the posterior from collapsing
    word_dropout: float = 0.0  # share of decoder input tokens replaced by pad
    property_weight: float = 1.0  # weight of the property predictor's loss (mean squared error of standardized values)
    val_every: int = 2000  # steps between validations (and checkpoints)
    log_every: int = 50  # steps between metrics.csv rows
    n_val_reconstruct: int = 500  # validation molecules greedily reconstructed at each validation
    n_val_samples: int = 1000  # prior samples whose validity is measured at each validation
    n_aggregate: int = 10_000  # training molecules encoded to fit the aggregate posterior stored with checkpoints
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch intra-op threads; 0: torch's default
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    init_from: str = ""  # fine-tuning: start from this model's weights (a run folder, a checkpoint, or 'bundled')
    freeze_encoder: bool = False  # train the decoder only (the encoder and its Gaussian layer keep their weights)
    patience: int = 0  # stop after this many validations in a row without a lower validation loss; 0: never
    augment: str = "none"  # none | encoder | both: randomized SMILES each time a molecule is drawn (training.augment)
    prior: str = "flow"  # flow | none: fit the flow prior to the best model's codes when the run ends (training.run_prior)
    prior_molecules: int = 50_000  # training molecules whose codes the end-of-run prior is fitted to
    prior_epochs: int = 10  # passes of the end-of-run flow fit over those molecules' posteriors (~500 steps)
    sample_temperature: float = 0.7  # stored with the end-of-run prior: the temperature `molvae sample` uses for the run

    def __post_init__(self) -> None:
        _check_positive_ints(self, ("batch_size", "epochs", "kl_warmup_steps", "kl_cycle_steps", "val_every"))
        _check_positive_ints(self, ("log_every", "n_val_reconstruct", "n_val_samples", "n_aggregate"))
        for name in ("lr", "lr_min", "clip_grad", "kl_start", "kl_weight", "free_bits", "property_weight",
                     "sample_temperature"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            _check(ok and value >= 0, name, value, "a finite number >= 0")
        _check(self.lr > 0, "lr", self.lr, "a number > 0")
        _check(self.sample_temperature > 0, "sample_temperature", self.sample_temperature, "a number > 0")
        _check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", self.lr_schedule, f"one of {LR_SCHEDULES}")
        _check(self.kl_schedule in KL_SCHEDULES, "kl_schedule", self.kl_schedule, f"one of {KL_SCHEDULES}")
        _check(self.precision in PRECISIONS, "precision", self.precision, f"one of {PRECISIONS}")
        _check(self.augment in AUGMENTS, "augment", self.augment, f"one of {AUGMENTS}")
        _check(self.prior in PRIORS, "prior", self.prior, f"one of {PRIORS}")
        _check_positive_ints(self, ("prior_molecules", "prior_epochs"))
        _check_fraction("word_dropout", self.word_dropout)
        for name in ("max_steps", "threads", "seed", "patience"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 0, name, value, "an integer >= 0")
        _check(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None, "device", self.device,
               "auto, cpu, cuda or cuda:N")
        parse_duration(self.max_time)


def parse_duration(text: str) -> float | None:
    """Seconds in '45s', '30m', '2h', '1.5h' or a bare number of seconds; None for ''."""
    if text in ("", None):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*", str(text))
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"max_time = {text!r} is not a duration; expected e.g. '45s', '30m', '2h' or seconds > 0")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class Config:
    """All settings of a run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> Config:
        """Build from ``{"data": {...}, "model": {...}, "train": {...}}``; unknown tables or keys are errors."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a table of settings, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"{source}: unknown table(s) {unknown}; expected {sorted(SECTIONS)}")
        parts = {}
        for name, klass in SECTIONS.items():
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{name}] must be a table, got {values!r}")
            allowed = {f.name for f in fields(klass)}
            bad = sorted(set(values) - allowed)
            if bad:
                raise ConfigError(f"{source}: unknown key(s) {bad} in [{name}]; accepted: {sorted(allowed)}")
            parts[name] = klass(**{k: _coerce(klass, k, v, source) for k, v in values.items()})
        return cls(**parts)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with flat ``{field: value}`` overrides (``None`` values are ignored)."""
        raw = self.to_dict()
        owner = field_sections()
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in owner:
                raise ConfigError(f"unknown setting {key!r}; accepted: {sorted(owner)}")
            raw[owner[key]][key] = value
        return Config.from_dict(raw, source="options")


def _coerce(klass: type, key: str, value: Any, source: str) -> Any:
    """TOML ints are fine where floats are expected; nothing else is converted."""
    kind = {f.name: f.type for f in fields(klass)}[key]
    if value is None and kind.endswith("| None"):
        return None
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "bool": bool, "str": str, "str | None": str}[kind]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} = {value!r} should be of type {kind}")
    return value


def field_sections() -> dict[str, str]:
    """Every field name -> the table that owns it."""
    return {f.name: section for section, klass in SECTIONS.items() for f in fields(klass)}


def load_config(path: str | Path | None) -> Config:
    """The config in a TOML file, or the defaults for ``None``."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return Config.from_dict(raw, source=str(path))


def to_toml(config: Config) -> str:
    """TOML text of a config (round-trips through ``load_config``); ``None`` values are left out."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                text = repr(value)
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)
