"""One self-describing checkpoint file: weights (and optimizer/RNG state) in safetensors, everything else as JSON
in the safetensors metadata. No pickle anywhere; written atomically; loads on CPU whatever device wrote it."""

from __future__ import annotations

import hashlib
import json
import platform
import struct
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from molvae import __version__
from molvae.config import Config
from molvae.errors import CheckpointError, MolVAEError
from molvae.model.vae import VAE
from molvae.outputs import atomic_write
from molvae.smiles.tokenizer import Vocabulary

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"


def versions() -> dict[str, str]:
    """Versions of molvae, torch, RDKit and Python."""
    try:
        rdkit = metadata.version("rdkit")
    except metadata.PackageNotFoundError:  # pragma: no cover
        rdkit = "unknown"
    return {"molvae": __version__, "torch": torch.__version__, "rdkit": rdkit, "python": platform.python_version()}


@dataclass
class Checkpoint:
    """What a checkpoint holds, as plain values and CPU tensors."""

    config: Config
    vocab: Vocabulary
    model_state: dict[str, torch.Tensor]
    train_state: dict[str, Any] = field(default_factory=dict)
    optimizer_state: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. the aggregate posterior

    def build_model(self) -> VAE:
        """The model with these weights, on CPU, in eval mode."""
        model = VAE(self.config.model, len(self.vocab), self.vocab.pad_id, len(self.config.data.property_list))
        try:
            model.load_state_dict(self.model_state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise CheckpointError(
                f"the weights do not fit the stored config and vocabulary ({len(self.vocab)} tokens): "
                f"{' '.join(first[:3])[:300]}"
            ) from exc
        return model.eval()


def _flatten_optimizer(state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Move the tensors of an optimizer state_dict into ``tensors``; return the JSON-able rest."""
    plain: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        plain[str(index)] = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
                plain[str(index)][key] = "tensor"
            else:
                plain[str(index)][key] = value
    return {"state": plain, "param_groups": state["param_groups"]}


def _unflatten_optimizer(plain: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state = {}
    for index, values in plain["state"].items():
        state[int(index)] = {
            key: tensors[f"optimizer.{index}.{key}"] if value == "tensor" else value for key, value in values.items()
        }
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(
    path: str | Path,
    model: VAE,
    vocab: Vocabulary,
    config: Config,
    train_state: dict[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint atomically; with ``optimizer`` it also holds optimizer and torch RNG state (for resume)."""
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"extra.{k}": v.detach().cpu().contiguous() for k, v in (extra_tensors or {}).items()})
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "vocab": vocab.to_dict(),
        "versions": versions(),
        "train_state": train_state or {},
        "extra": extra or {},
    }
    if optimizer is not None:
        meta["optimizer"] = _flatten_optimizer(optimizer.state_dict(), tensors)
        tensors["rng.torch"] = torch.get_rng_state()
    text = json.dumps(meta)
    # The tensor bytes do not depend on the metadata, so a first pass gives their checksum for the second.
    draft = save_tensors(tensors, metadata={"molvae": text})
    (size,) = struct.unpack("<Q", draft[:8])
    digest = hashlib.sha256(memoryview(draft)[8 + size :]).hexdigest()
    blob = save_tensors(tensors, metadata={"molvae": text, "sha256": digest})
    atomic_write(path, blob)
    return path


def resolve_path(path: str | Path) -> Path:
    """A checkpoint file from a file path, a path without suffix, or a run folder (its ``best`` checkpoint)."""
    path = Path(path)
    if path.is_dir():
        path = path / f"best{SUFFIX}"
    elif not path.exists() and path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; expected a .safetensors file written by molvae or a run folder")
    return path


def _read_header(blob: bytes, path: Path) -> dict[str, Any]:
    if len(blob) < 8:
        raise CheckpointError(f"{path} is not a molvae checkpoint: {len(blob)} bytes, too short for safetensors")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > len(blob) - 8:
        raise CheckpointError(f"{path} is not a molvae checkpoint (not safetensors, or truncated: header of {size} bytes)")
    try:
        header = json.loads(blob[8 : 8 + size])
        meta = json.loads(header["__metadata__"]["molvae"])
        digest = header["__metadata__"]["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a molvae checkpoint (no molvae metadata in a safetensors header)") from exc
    if hashlib.sha256(memoryview(blob)[8 + size :]).hexdigest() != digest:
        raise CheckpointError(f"{path} is damaged: its tensor data does not match the checksum it was written with")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a molvae checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {meta.get('format_version')!r}; this molvae {__version__} reads format "
            f"{FORMAT_VERSION} (written by {meta.get('versions', {}).get('molvae', '?')})"
        )
    return meta


# What a checkpoint written before a setting existed meant by it (the built-in defaults have moved on since):
# aromatic SMILES, a constant learning rate, no step limit, no free bits.
SETTINGS_BEFORE_THEY_EXISTED = {"data": {"kekule": False},
                                "train": {"lr_schedule": "constant", "max_steps": 0, "free_bits": 0.0}}


def _with_old_settings(raw: dict) -> dict:
    """The checkpoint's config table with ``SETTINGS_BEFORE_THEY_EXISTED`` filled in where a key is missing."""
    if not isinstance(raw, dict):
        return raw
    filled = dict(raw)
    for section, values in SETTINGS_BEFORE_THEY_EXISTED.items():
        if isinstance(filled.get(section, {}), dict):
            filled[section] = {**values, **filled.get(section, {})}
    return filled


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint (tensors on CPU). Raises ``CheckpointError`` for anything that is not an intact one."""
    path = resolve_path(path)
    blob = path.read_bytes()
    meta = _read_header(blob, path)
    try:
        tensors = load_tensors(blob)
    except Exception as exc:  # safetensors raises its own error types for truncated/altered data
        raise CheckpointError(f"{path} is damaged (truncated or altered tensor data): {exc}") from exc
    try:
        config = Config.from_dict(_with_old_settings(meta["config"]), source=f"{path} config")
        vocab = Vocabulary.from_dict(meta["vocab"])
        optimizer = meta.get("optimizer")
        return Checkpoint(
            config=config,
            vocab=vocab,
            model_state={k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")},
            train_state=meta.get("train_state", {}),
            optimizer_state=_unflatten_optimizer(optimizer, tensors) if optimizer else None,
            rng_state=tensors.get("rng.torch"),
            versions=meta.get("versions", {}),
            extra=meta.get("extra", {}),
            extra_tensors={k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")},
        )
    except CheckpointError:
        raise
    except (MolVAEError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid or incompatible description: {exc}") from exc
