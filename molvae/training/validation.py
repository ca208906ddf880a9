"""Validation during training: loss terms at a given KL weight, active units, reconstruction, prior validity,
property errors, and the posterior-collapse check on them."""

from __future__ import annotations

import math

import numpy as np
import torch

from molvae.chemistry import chem
from molvae.config import Config
from molvae.device import autocast
from molvae.model.properties import prediction_errors
from molvae.model.sampling import decode_z
from molvae.model.vae import VAE, property_loss, reparameterize, vae_loss
from molvae.smiles.tokenizer import Vocabulary
from molvae.training.batching import collate


@torch.no_grad()
def validate(
    model: VAE,
    vocab: Vocabulary,
    ids: np.ndarray,
    lengths: np.ndarray,
    smiles: list[str],
    config: Config,
    beta: float,
    device: torch.device,
    properties: np.ndarray | None = None,
) -> dict[str, float]:
    """Validation loss terms, active units, greedy reconstruction rate and prior-sample validity; with a property
    head and standardized targets (N, P), ``property_loss`` and ``property_errors`` (MAE, R^2 per property).

    Uses its own seeded generator, so validating does not change the training run's random stream.
    """
    cfg = config.train
    generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    model.eval()
    totals = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0, "token_accuracy": 0.0}
    mus = []
    for start in range(0, len(lengths), cfg.batch_size):
        rows = np.arange(start, min(start + cfg.batch_size, len(lengths)))
        batch_ids, batch_lengths = (t.to(device) for t in collate(ids, lengths, rows))
        with autocast(device, cfg.precision):
            mu, logvar = model.encode(batch_ids, batch_lengths)
            z = reparameterize(mu, logvar, generator)
            logits = model.decode(z, batch_ids[:, :-1])
        terms = vae_loss(logits, batch_ids[:, 1:], mu, logvar, beta, cfg.free_bits, vocab.pad_id)
        for key in totals:
            totals[key] += float(terms[key]) * len(rows)
        mus.append(mu.float().cpu())
    result = {k: v / len(lengths) for k, v in totals.items()}
    mu_all = torch.cat(mus)  # (N, Z)
    result["active_units"] = int((mu_all.var(dim=0) > 0.01).sum()) if len(mu_all) > 1 else 0
    n_rec = min(cfg.n_val_reconstruct, len(smiles))
    with autocast(device, cfg.precision):
        decoded = decode_z(model, vocab, mu_all[:n_rec].to(device), greedy=True)
        prior = decode_z(model, vocab, torch.randn(cfg.n_val_samples, model.latent_dim, generator=generator,
                                                   device=device), generator=generator)
    result["reconstruction_rate"] = sum(chem.canonical_smiles(d) == s for d, s in zip(decoded, smiles)) / max(1, n_rec)
    result["prior_validity"] = sum(chem.is_valid(s) for s in prior) / len(prior)
    if model.property_head is not None and properties is not None:
        with torch.no_grad():
            predicted = model.property_head(mu_all.to(device)).float().cpu()
        target = torch.from_numpy(properties)
        result["property_loss"] = float(property_loss(predicted, target))
        mean, std = (b.cpu().numpy() for b in (model.property_head.mean, model.property_head.std))
        result["property_errors"] = prediction_errors(predicted.numpy() * std + mean, properties * std + mean,
                                                      config.data.property_list)
    model.train()
    return result


COLLAPSE_FRACTION = 0.25  # fewer active latent units than this share of the latent size after the KL warm-up


def collapse_warning(validation: dict[str, float], step: int, config: Config) -> str | None:
    """A message when the posterior has collapsed: after the KL warm-up, fewer than a quarter of the latent units
    are active (variance of mu over the validation molecules > 0.01), so the decoder ignores most of z."""
    cfg, latent = config.train, config.model.latent_dim
    if "active_units" not in validation or (cfg.kl_schedule != "constant" and step < cfg.kl_warmup_steps):
        return None
    active = int(validation["active_units"])
    if active >= max(1, math.ceil(COLLAPSE_FRACTION * latent)):
        return None
    return (f"posterior collapse at step {step}: {active} of {latent} latent units active, KL "
            f"{validation.get('kl', float('nan')):.2f} nats; the decoder is ignoring z (encode/decode and latent "
            f"optimization will not work well). Try --free-bits 0.5 or a lower --kl-weight")
