"""Inversion: a latent code that decodes back to a given molecule, found before searching from it.

The encoder's mean mu(x) need not decode to x (a model with 60% greedy reconstruction gives back only 60% of
molecules from their mu), so a search around mu(x) explores the neighbourhood of some other molecule. Inversion
(InvBO, Chu et al. 2024) moves z until the decoder returns x: gradient steps on the teacher-forced negative
log-likelihood of x's tokens given z, from mu(x). Greedy decoding returns x exactly when, with x's own tokens as the
prefix, x's next token is the decoder's most probable one at every step (the greedy path is then x's path), so the
check costs no decoding: it is the teacher-forced argmax accuracy, 100%. No oracle call is spent.

Shapes: B molecules, T tokens, V vocabulary, Z latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from molvae.model.vae import VAE


@dataclass
class Inversion:
    """Codes z (B, Z) and whether each decodes greedily back to its molecule (B,) bool; ``steps`` (B,) taken."""

    z: torch.Tensor
    exact: torch.Tensor
    steps: torch.Tensor


def _token_fit(model: VAE, z: torch.Tensor, ids: torch.Tensor, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced negative log-likelihood (B,) of ids (B, T) given z (B, Z), and whether every real token is the
    decoder's argmax (B,) (greedy decoding returns the molecule)."""
    logits = model.decode(z, ids[:, :-1]).float()  # (B, T-1, V)
    targets = ids[:, 1:]
    mask = targets != pad_id
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none", ignore_index=pad_id).sum(dim=1)
    exact = ((logits.argmax(dim=-1) == targets) | ~mask).all(dim=1)
    return nll, exact


def invert(model: VAE, ids: torch.Tensor, z0: torch.Tensor, pad_id: int = 0, max_steps: int = 60,
           lr: float = 0.05, margin_steps: int = 3) -> Inversion:
    """Codes near z0 (B, Z) that decode greedily to ids (B, T) (bos .. eos, padded), by Adam on the teacher-forced
    NLL. A molecule's code stops moving ``margin_steps`` steps after it first decodes back (a small margin, so a
    nearby draw decodes back too); molecules that never do keep their lowest-NLL code. The network is not changed."""
    was_training = model.training
    model.eval()
    z = z0.detach().clone().float().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    first_exact = torch.full((len(z0),), -1, dtype=torch.long)
    kept, kept_nll = z0.detach().clone().float(), torch.full((len(z0),), float("inf"))
    steps = torch.zeros(len(z0), dtype=torch.long)
    moving = torch.ones(len(z0), dtype=torch.bool)
    for step in range(max_steps + 1):
        rows = moving.nonzero().squeeze(1)  # only the codes still moving are decoded
        nll, exact = _token_fit(model, z[rows], ids[rows], pad_id)
        with torch.no_grad():
            first = first_exact[rows]
            first[exact & (first < 0)] = step
            first_exact[rows] = first
            # kept: the latest exact code; before any exact one, the code of lowest NLL
            take = exact | ((first < 0) & (nll < kept_nll[rows]))
            kept[rows[take]], kept_nll[rows[take]] = z.detach()[rows[take]], nll.detach()[take]
            steps[rows] = step
            moving[rows[exact & (step - first >= margin_steps)]] = False
        if step == max_steps or not bool(moving.any()):
            break
        optimizer.zero_grad()
        (nll * moving[rows].float()).sum().backward()
        before = z.detach().clone()
        optimizer.step()
        with torch.no_grad():
            z[~moving] = before[~moving]  # Adam's momentum must not move a finished code
    model.train(was_training)
    return Inversion(kept, first_exact >= 0, steps)
