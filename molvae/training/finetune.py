"""Fine-tuning: a run that starts from a trained model's weights (``train.init_from``) instead of random ones.

The architecture, the SMILES form (Kekulé or aromatic) and max_length come from that model. Tokens of the new data
that its vocabulary lacks are appended (``model.extension``: the old tokens' outputs stay as they were until
training moves the new rows). Its property predictor is kept when the new data has all of its columns, dropped
otherwise. ``FINE_TUNE`` is the short default schedule for small sets (a few thousand molecules, minutes on a CPU),
with early stopping on the validation loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molvae.config import Config
from molvae.errors import ConfigError
from molvae.model.bundled import named_model_path
from molvae.model.checkpoint import Checkpoint, load_checkpoint, resolve_path
from molvae.model.extension import extend_state
from molvae.model.vae import VAE
from molvae.smiles.files import columns, file_sha256
from molvae.smiles.tokenizer import SPECIALS, Vocabulary

# The fine-tuning schedule used when no --config is given: a few hundred to a few thousand steps, validated often,
# stopped when the validation loss has not improved for `patience` validations (best.safetensors keeps the best).
FINE_TUNE: dict[str, Any] = {
    "lr": 5e-4, "lr_schedule": "cosine", "epochs": 1000, "max_steps": 3000, "batch_size": 64,
    "kl_schedule": "constant", "val_every": 50, "patience": 4, "val_fraction": 0.1,
    "n_val_reconstruct": 200, "n_val_samples": 200, "n_aggregate": 2000,
}
ARCHITECTURE_KEYS = ("kekule", "max_length")  # data settings that must be the initial model's


@dataclass
class Init:
    """The model a run starts from, and what fine-tuning changed about it."""

    path: Path
    checkpoint: Checkpoint
    new_tokens: list[str] = field(default_factory=list)
    property_head: str = ""  # 'kept (logP, qed, SAS)' or 'dropped: ...' or 'none'

    def record(self) -> dict[str, Any]:
        """What the run folder's checkpoints keep of it (``train_state['init_from']``)."""
        return {"path": str(self.path.resolve()), "sha256": file_sha256(self.path), "new_tokens": self.new_tokens,
                "property_head": self.property_head}


def resolve_init(spec: str) -> Path:
    """The checkpoint file of ``init_from``: a bundled model's name ('bundled' or 'default', 'zinc250k'), a run
    folder (its best checkpoint) or a file."""
    return named_model_path(spec) or resolve_path(spec)


def fine_tune_defaults(config: Config, init_from: str) -> Config:
    """``config`` with the fine-tuning schedule and the initial model's KL weight and free bits (the objective it
    was trained with), for a run started without a config file."""
    init = load_checkpoint(resolve_init(init_from))
    return config.with_overrides({**FINE_TUNE, "kl_weight": init.config.train.kl_weight,
                                  "free_bits": init.config.train.free_bits, "kl_start": init.config.train.kl_weight,
                                  "init_from": init_from})


def adopt(config: Config, data: Path) -> tuple[Config, Init]:
    """Load the initial model and take its architecture into ``config``: its model section, Kekulé form and
    max_length; its property columns when ``data`` has them all (else none)."""
    path = resolve_init(config.train.init_from)
    checkpoint = load_checkpoint(path)
    theirs = checkpoint.config
    wanted = theirs.data.property_list
    header = columns(data)
    keep = bool(wanted) and all(name in header for name in wanted)
    properties = theirs.data.properties if keep else ""
    note = ("none" if not wanted else f"kept ({', '.join(wanted)})" if keep else
            f"dropped: {data.name} has no column(s) {[n for n in wanted if n not in header]}")
    raw = config.to_dict()
    raw["model"] = theirs.to_dict()["model"]
    raw["data"].update({k: getattr(theirs.data, k) for k in ARCHITECTURE_KEYS}, properties=properties)
    raw["data"]["max_length"] = checkpoint.vocab.max_length
    return Config.from_dict(raw, source="fine-tuning config"), Init(path, checkpoint, property_head=note)


def extended_vocabulary(init: Init, corpus_vocab: Vocabulary) -> Vocabulary:
    """The initial vocabulary with the data's new tokens appended (old ids unchanged); records them in ``init``."""
    old = init.checkpoint.vocab
    init.new_tokens = [t for t in corpus_vocab.tokens[len(SPECIALS):] if t not in old.index]
    return Vocabulary(list(old.tokens) + init.new_tokens, old.max_length)


def load_initial_weights(model: VAE, init: Init, vocab: Vocabulary) -> None:
    """Copy the initial model's weights into ``model`` (built for ``vocab``), extended for the new tokens; the
    property head only when it was kept."""
    state = extend_state(init.checkpoint.model_state, model.config, len(init.checkpoint.vocab), len(vocab))
    if not init.property_head.startswith("kept"):
        state = {k: v for k, v in state.items() if not k.startswith("property_head.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("property_head.")]:
        raise ConfigError(f"the weights of {init.path} do not fit this model (missing {missing}, "
                          f"unexpected {unexpected})")


def freeze_encoder(model: VAE) -> None:
    """Keep the encoder and its Gaussian layer as they are: only the decoder (and property head) train."""
    for module in (model.encoder, model.to_gaussian):
        for parameter in module.parameters():
            parameter.requires_grad_(False)
