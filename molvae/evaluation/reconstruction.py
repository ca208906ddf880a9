"""How well a model gives back held-out molecules: exact reconstruction rates, active units, KL per dimension."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from molvae.model.latent import LatentModel
from molvae.model.vae import kl_per_dim


def reconstruction(vae: LatentModel, smiles: Sequence[str], k: int = 10, beam_width: int = 5, seed: int = 0,
                   standardize: str = "auto") -> dict[str, float]:
    """Exact (canonical) reconstruction of ``smiles`` by a ``MolVAE``: each molecule is standardized to what the
    model can express (``standardize``) and its standardized form is the target (``n_standardized`` counts them).

    - ``recon_greedy``: greedy decode of the encoder mean; ``recon_beam``: beam search of width ``beam_width``;
    - ``recon_sampled@k``: share of molecules that at least one of k draws z ~ q(z|x), greedily decoded, gives back
      (chemical_vae's protocol, with k encodings and one decoding each);
    - ``active_units``: dimensions whose posterior mean varies across the molecules (variance > 0.01);
      ``kl_per_dim``: mean KL(q(z|x) || N(0, I)) per dimension, in nats.
    Molecules the vocabulary cannot express are counted as failures (``n_unencodable``).
    """
    prepared = vae.standardize(list(smiles), standardize)
    target = [r.smiles for r in prepared]
    mu = vae.encode_standardized(prepared, errors="skip")
    ok = ~torch.isnan(mu).any(dim=1)
    index = ok.nonzero().flatten()
    n = len(smiles)
    out: dict[str, float] = {"n": float(n), "n_unencodable": float(n - len(index)),
                             "n_standardized": float(sum(1 for r in prepared if r.changes))}
    if len(index) == 0:
        return out
    goal = [target[i] for i in index.tolist()]
    good = [prepared[i] for i in index.tolist()]
    greedy = vae.decode(mu[index])
    out["recon_greedy"] = float(np.sum([a == b for a, b in zip(greedy, goal)]) / n)
    beam = vae.decode(mu[index], beam_width=beam_width)
    out["recon_beam"] = float(np.sum([a == b for a, b in zip(beam, goal)]) / n)
    hit = np.zeros(len(index), dtype=bool)
    for attempt in range(k):
        draws = vae.encode_standardized(good, sample=True, seed=seed + attempt)
        hit |= np.array([a == b for a, b in zip(vae.decode(draws), goal)])
    out[f"recon_sampled@{k}"] = float(hit.sum() / n)
    ids, lengths = vae.vocab.encode([prepared[i].written for i in index.tolist()])
    with torch.no_grad():
        mean, logvar = vae.model.encode(ids.to(vae.device), lengths.to(vae.device))
    out["active_units"] = float((mean.var(dim=0) > 0.01).sum()) if len(mean) > 1 else 0.0
    out["kl_per_dim"] = float(kl_per_dim(mean.float().cpu(), logvar.float().cpu()).mean())
    return out
