"""A prior fitted to where the encoder puts molecules: a Gaussian mixture on the aggregate posterior.

A VAE trained against N(0, I) does not fill N(0, I): the aggregate posterior q(z) = mean over x of q(z | x) leaves
regions the decoder never learned ("prior holes"), and prior samples that land there decode to molecules unlike the
data. Fitting a second, small density model to q(z) after training and sampling from it instead is the two-stage
fix of Dai & Wipf (2019, "Diagnosing and enhancing VAE models"). Two ways to build the mixture:

- ``em``: a diagonal Gaussian mixture fitted by EM to the posterior means, each component widened by the mean
  posterior variance (few, broad components);
- ``exemplar``: the aggregate posterior itself, estimated on K training molecules: one component per molecule, its
  own posterior N(mu_i, diag sigma_i^2), equal weights (the exemplar prior of Norouzi et al. 2020, "Exemplar VAE";
  a kernel density estimate whose kernels are the posteriors). ``widen`` > 1 multiplies every standard deviation,
  trading closeness to the training molecules for novelty.

Tensors only (no RDKit, no tokenizer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PREFIX = "mixture_"  # checkpoint tensor names: mixture_weights, mixture_means, mixture_variances


@dataclass
class MixturePrior:
    """p(z) = sum_k weights[k] N(means[k], diag(variances[k])): weights (K,), means (K, Z), variances (K, Z)."""

    weights: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor

    @property
    def n_components(self) -> int:
        return len(self.weights)

    def widened(self, factor: float) -> MixturePrior:
        """The same mixture with every component's standard deviation times ``factor``."""
        return MixturePrior(self.weights, self.means, self.variances * factor**2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws (n, Z): a component by weight, then a Gaussian draw from it."""
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[component] + self.variances[component].sqrt() * eps

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) of each row of z (B, Z) -> (B,)."""
        return _component_log_probs(z.double(), self.weights.double(), self.means.double(),
                                    self.variances.double()).logsumexp(dim=1).float()

    def tensors(self) -> dict[str, torch.Tensor]:
        """For a checkpoint's extra tensors."""
        return {f"{PREFIX}weights": self.weights, f"{PREFIX}means": self.means, f"{PREFIX}variances": self.variances}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> MixturePrior | None:
        """The mixture stored in a checkpoint's extra tensors, or None when it has none."""
        if f"{PREFIX}weights" not in tensors:
            return None
        return cls(*(tensors[f"{PREFIX}{name}"].float() for name in ("weights", "means", "variances")))


def _component_log_probs(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                         variances: torch.Tensor) -> torch.Tensor:
    """log w_k + log N(x_i; m_k, diag v_k) for rows x (N, Z) and K components -> (N, K)."""
    precision = 1.0 / variances  # (K, Z)
    const = weights.log() - 0.5 * (2 * math.pi * variances).log().sum(dim=1)  # (K,)
    quad = (x**2) @ precision.T - 2 * x @ (means * precision).T + (means**2 * precision).sum(dim=1)  # (N, K)
    return const - 0.5 * quad


def fit_mixture(mu: torch.Tensor, variance: torch.Tensor, n_components: int = 1024, iterations: int = 30,
                seed: int = 0, chunk: int = 20_000) -> MixturePrior:
    """Fit a diagonal Gaussian mixture to posterior means mu (N, Z) by EM, then add the mean posterior variance
    (``variance`` (N, Z): each molecule's sigma^2) to every component, so p(z) covers q(z) and not only its means.

    Components start at n_components distinct means drawn by ``seed``; variances are floored at 1e-4. float32
    responsibilities, float64 sums.
    """
    x = mu.float()
    k = min(n_components, len(x))
    generator = torch.Generator().manual_seed(seed)
    means = x[torch.randperm(len(x), generator=generator)[:k]].clone()
    variances = x.var(dim=0).expand(k, -1).clone()
    weights = torch.full((k,), 1.0 / k)
    for _ in range(iterations):
        mass = torch.zeros(k, dtype=torch.float64)
        first = torch.zeros(means.shape, dtype=torch.float64)
        second = torch.zeros(means.shape, dtype=torch.float64)
        for start in range(0, len(x), chunk):
            rows = x[start : start + chunk]
            log_r = _component_log_probs(rows, weights, means, variances)
            resp = (log_r - log_r.logsumexp(dim=1, keepdim=True)).exp()  # (n, K) responsibilities
            mass += resp.sum(dim=0).double()
            first += (resp.T @ rows).double()
            second += (resp.T @ rows**2).double()
        mass = mass.clamp(min=1e-10)
        new_means = first / mass[:, None]
        variances = (second / mass[:, None] - new_means**2).clamp(min=1e-4).float()
        means, weights = new_means.float(), (mass / mass.sum()).float()
    widened = variances + variance.float().mean(dim=0)
    return MixturePrior(weights.float(), means.float(), widened.float())


def exemplar_mixture(mu: torch.Tensor, variance: torch.Tensor, n_components: int = 10_000, widen: float = 1.0,
                     seed: int = 0) -> MixturePrior:
    """The aggregate posterior of ``n_components`` molecules drawn by ``seed`` from the posteriors mu, variance
    (N, Z): components N(mu_i, widen^2 sigma_i^2) with equal weights."""
    k = min(n_components, len(mu))
    rows = torch.randperm(len(mu), generator=torch.Generator().manual_seed(seed))[:k].sort().values
    return MixturePrior(torch.full((k,), 1.0 / k), mu[rows].float().clone(),
                        (variance[rows].float() * widen**2).clamp(min=1e-8))


def build_mixture(mu: torch.Tensor, variance: torch.Tensor, method: str = "em", n_components: int = 1024,
                  widen: float = 1.0, seed: int = 0) -> MixturePrior:
    """The mixture prior of posteriors mu, variance (N, Z) by ``method`` ('em' or 'exemplar'); ``widen`` multiplies every
    component's standard deviation."""
    if method == "exemplar":
        return exemplar_mixture(mu, variance, n_components, widen, seed)
    return fit_mixture(mu, variance, n_components, seed=seed).widened(widen)
