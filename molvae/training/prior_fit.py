"""Fit a prior of a trained VAE on the encoded molecules of a data file (``MolVAE.fit_prior``): the mixture
(``model.prior``: methods em, exemplar) or the flow (``model.flow``, fitted by ``training.flow_fit``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.errors import DataError
from molvae.model.flow import FlowPrior, FlowSpec
from molvae.model.latent import LatentModel
from molvae.model.prior import MixturePrior, build_mixture
from molvae.model.vae import VAE
from molvae.smiles.corpus import load_corpus, remap_to_vocab
from molvae.training.batching import iter_batches
from molvae.training.flow_fit import FlowFit, fit_flow

METHODS = ("em", "exemplar", "flow")  # MolVAE.fit_prior's methods


@torch.no_grad()
def encoder_moments(model: VAE, ids: np.ndarray, lengths: np.ndarray, device: torch.device,
                    batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and variances (N, Z) of molecules given as token ids (N, T) in ``model``'s vocabulary."""
    mus, variances = [], []
    was_training = model.training
    model.eval()
    for batch_ids, batch_lengths in iter_batches(ids, lengths, batch_size):
        mu, logvar = model.encode(batch_ids.to(device), batch_lengths.to(device))
        mus.append(mu.float().cpu())
        variances.append(logvar.float().exp().cpu())
    model.train(was_training)
    return torch.cat(mus), torch.cat(variances)


def posterior_moments(vae: LatentModel, ids: np.ndarray, lengths: np.ndarray,
                      batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """``encoder_moments`` of a loaded model's network."""
    return encoder_moments(vae.model, ids, lengths, vae.device, batch_size)


def fit_prior_on_file(vae: LatentModel, data: str | Path, smiles_column: str | None = None,
                      max_molecules: int = 200_000, n_components: int = 1024, seed: int = 0, method: str = "em",
                      widen: float = 1.0, epochs: int = 20,
                      progress: bool = False) -> tuple[MixturePrior | FlowPrior, dict[str, Any]]:
    """(prior, what it was fitted on) for up to ``max_molecules`` molecules of ``data`` (drawn by seed), read as
    the model reads them (Kekulé or not), built by ``method`` (``METHODS``; ``epochs``: the flow's); molecules with
    tokens the model lacks are an error naming them."""
    corpus = load_corpus(data, smiles_column, vae.config.data.max_length, kekule=vae.config.data.kekule)
    if len(corpus.smiles) < 2:
        raise DataError(f"{corpus.path}: {len(corpus.smiles)} usable molecule(s); a prior needs at least 2")
    ids = remap_to_vocab(corpus, vae.vocab)
    n_encoded = min(max_molecules, n_components) if method == "exemplar" else max_molecules  # one per component
    rows = np.sort(np.random.default_rng(seed).permutation(len(corpus.smiles))[:n_encoded])
    mu, variance = posterior_moments(vae, ids[rows], corpus.lengths[rows])
    fit = {"data": str(Path(data).resolve()), "sha256": corpus.sha256, "n_molecules": len(rows), "method": method,
           "widen": widen}
    if method == "flow":
        flow, report = fit_flow(mu, variance, FlowSpec(mu.shape[1], seed=seed, widen=widen),
                                FlowFit(epochs=epochs, seed=seed), progress=progress)
        return flow, {**fit, "epochs": epochs, **report.as_dict()}
    mixture = build_mixture(mu, variance, method, n_components, widen, seed)
    return mixture, {**fit, "n_components": mixture.n_components}
