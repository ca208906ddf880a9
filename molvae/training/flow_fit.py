"""Fitting the flow prior (``model.flow``) to the posteriors of a trained VAE's training molecules.

The flow learns the aggregate posterior q(z) = mean over x of q(z | x): each step draws fresh codes
z = mu + sigma * eps from the posteriors of a batch of molecules (so the flow sees the posteriors, not only their
means), and maximizes their log-likelihood. A share of the molecules is held out; their codes' mean negative
log-likelihood is measured after each epoch, and the epoch with the lowest is kept.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from molvae.model.flow import FlowPrior, FlowSpec


@dataclass(frozen=True)
class FlowFit:
    """How to fit: epochs over the molecules, batch of codes, Adam's peak learning rate (cosine to 1% of it),
    held-out share, seed of the split and of the code draws."""

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-3
    val_fraction: float = 0.05
    seed: int = 0


@dataclass
class FlowReport:
    """Held-out negative log-likelihood (nats per code) after each epoch, and the epoch kept."""

    val_nll: list[float] = field(default_factory=list)
    best_epoch: int = -1
    n_train: int = 0
    n_val: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"val_nll": [round(v, 4) for v in self.val_nll], "best_epoch": self.best_epoch,
                "n_train": self.n_train, "n_val": self.n_val}


def draw_codes(mu: torch.Tensor, variance: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One code from each posterior N(mu, diag variance): (N, Z) -> (N, Z)."""
    return mu + variance.sqrt() * torch.randn(mu.shape, generator=generator)


def standardization(mu: torch.Tensor, variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (Z,) of the aggregate posterior: var = var(mu) + mean(sigma^2) per dimension."""
    return mu.mean(dim=0), (mu.var(dim=0, correction=0) + variance.mean(dim=0)).sqrt().clamp(min=1e-4)


@torch.no_grad()
def held_out_nll(prior: FlowPrior, codes: torch.Tensor, chunk: int = 8192) -> float:
    """Mean negative log-likelihood (nats) of codes (N, Z) under the flow."""
    prior.eval()
    total = sum(float(-prior.log_prob(part).sum()) for part in codes.split(chunk))
    prior.train()
    return total / max(1, len(codes))


def fit_flow(mu: torch.Tensor, variance: torch.Tensor, spec: FlowSpec, fit: FlowFit = FlowFit(),
             progress: bool = True) -> tuple[FlowPrior, FlowReport]:
    """A flow prior fitted to the posteriors mu, variance (N, Z) of N molecules, and its learning curve."""
    generator = torch.Generator().manual_seed(fit.seed)
    order = torch.randperm(len(mu), generator=generator)
    n_val = max(1, int(round(fit.val_fraction * len(mu)))) if len(mu) > 1 else 0
    val_rows, train_rows = order[:n_val], order[n_val:]
    shift, scale = standardization(mu[train_rows], variance[train_rows])
    prior = FlowPrior(spec, shift, scale)
    val_codes = draw_codes(mu[val_rows], variance[val_rows], generator)  # fixed draws: comparable across epochs
    steps_per_epoch = max(1, math.ceil(len(train_rows) / fit.batch_size))
    total = fit.epochs * steps_per_epoch
    optimizer = torch.optim.Adam(prior.parameters(), lr=fit.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=fit.lr / 100)
    report = FlowReport(n_train=len(train_rows), n_val=n_val)
    best_state, best = None, math.inf
    bar = tqdm(total=total, disable=not progress, desc="fit flow prior", unit="step")
    for epoch in range(fit.epochs):
        shuffled = train_rows[torch.randperm(len(train_rows), generator=generator)]
        for rows in shuffled.split(fit.batch_size):
            loss = -prior.log_prob(draw_codes(mu[rows], variance[rows], generator)).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(prior.parameters(), 10.0)
            optimizer.step()
            schedule.step()
            bar.update(1)
        nll = held_out_nll(prior, val_codes) if n_val else float(loss)
        report.val_nll.append(nll)
        bar.set_postfix(epoch=epoch + 1, val_nll=f"{nll:.3f}")
        if nll < best:
            best, best_state, report.best_epoch = nll, copy.deepcopy(prior.state_dict()), epoch + 1
    bar.close()
    if best_state is not None:
        prior.load_state_dict(best_state)
    return prior.eval(), report
