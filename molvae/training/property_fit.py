"""Fit the property predictor of a frozen VAE on the encoded molecules of a data file (``MolVAE.fit_properties``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.config import property_names
from molvae.errors import ConfigError, DataError
from molvae.model.latent import LatentModel
from molvae.model.properties import fit_head, predict, prediction_errors
from molvae.model.vae import PropertyHead
from molvae.smiles.corpus import load_corpus
from molvae.smiles.files import read_properties
from molvae.training.batching import split_indices


def fit_on_file(
    vae: LatentModel, data: str | Path, properties: Sequence[str] | str, smiles_column: str | None, max_molecules: int,
    val_fraction: float, epochs: int, seed: int,
) -> tuple[PropertyHead, list[str], dict[str, dict[str, float]], dict[str, Any]]:
    """(head, property names, held-out errors per property, what it was fitted on); the model is not changed.

    Up to ``max_molecules`` rows of ``data`` (drawn by seed) are encoded (posterior means); rows the model cannot
    read or with no value at all are left out, and fewer than two usable rows is an error that counts each reason.
    """
    names = property_names(properties) if isinstance(properties, str) else [str(p).strip() for p in properties]
    if not names:
        raise ConfigError("properties: name at least one numeric column, e.g. 'logP,qed,SAS'")
    config = vae.config.with_overrides({"properties": ",".join(names)})  # checks the names before any work
    corpus = load_corpus(data, smiles_column, config.data.max_length, kekule=config.data.kekule)
    rows = np.sort(np.random.default_rng(seed).permutation(len(corpus.smiles))[:max_molecules])
    targets = read_properties(corpus.path, names, corpus.lines[rows])
    z = vae.encode([corpus.smiles[i] for i in rows], errors="skip")
    readable = ~torch.isnan(z).any(dim=1).numpy()
    has_value = ~np.isnan(targets).all(axis=1)
    usable = readable & has_value
    if usable.sum() < 2:
        raise DataError(
            f"{corpus.path}: {int(usable.sum())} molecule(s) usable for fitting, need at least 2 (of "
            f"{corpus.n_rows} rows: {corpus.n_rows - len(corpus.smiles)} rejected on reading, "
            f"{int((~readable).sum())} the model cannot read, {int((readable & ~has_value).sum())} with no value "
            f"in {', '.join(names)})")
    z, targets = z[torch.from_numpy(usable)], targets[usable]
    missing = [name for j, name in enumerate(names) if np.isnan(targets[:, j]).all()]
    if missing:
        raise DataError(f"{corpus.path}: no numeric value of {', '.join(missing)} on any usable molecule")
    train_idx, val_idx = split_indices(len(z), val_fraction, seed)
    head = fit_head(z[train_idx], targets[train_idx], config.model.predictor_hidden, epochs=epochs, seed=seed)
    errors = prediction_errors(predict(head, z[val_idx]), targets[val_idx], names)
    fit = {"data": str(Path(data).resolve()), "sha256": corpus.sha256, "n_train": len(train_idx), "n_val": len(val_idx)}
    return head, names, errors, fit
