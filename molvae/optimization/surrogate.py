"""A surrogate of the objective learned from the calls already paid for: a Gaussian process on molecules with the
Tanimoto kernel of Morgan fingerprints (the kernel of the GP BO baseline of the PMO benchmark; Gao et al. 2022).

Exact GP with fixed hyperparameters (signal variance = the scores' variance, noise = ``NOISE`` of it, constant mean
= the scores' mean), refitted from scratch each round on at most ``max_points`` molecules: the best half and the most
recent half (an exact GP costs N^3). Candidates are ranked by expected improvement over the best score.
Shapes: N training molecules, M candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from molvae.chemistry import chem
from molvae.optimization.bayes_opt import log_expected_improvement

NOISE = 0.05  # observation noise as a share of the scores' variance (oracles are exact; this regularizes)


class TanimotoGP:
    """GP regression on fingerprints: ``fit(fps, y)``, then ``predict(fps)`` -> (mean (M,), sd (M,))."""

    def __init__(self, max_points: int = 2000) -> None:
        self.max_points = max_points
        self.fps: list[Any] = []
        self.alpha = np.zeros(0)
        self.chol = np.zeros((0, 0))
        self.mean = 0.0
        self.var = 1.0

    def fit(self, fps: Sequence[Any], y: Sequence[float]) -> TanimotoGP:
        """Condition on fingerprints ``fps`` with scores ``y`` (N,); keeps the best and the most recent if too many."""
        y = np.asarray(y, dtype=np.float64)
        keep = np.arange(len(y))
        if len(y) > self.max_points:
            best = np.argsort(-y, kind="stable")[: self.max_points // 2]
            recent = np.arange(len(y) - self.max_points // 2, len(y))
            keep = np.unique(np.concatenate([best, recent]))
        self.fps = [fps[i] for i in keep]
        y = y[keep]
        self.mean = float(y.mean()) if len(y) else 0.0
        self.var = max(float(y.var()) if len(y) > 1 else 1.0, 1e-8)
        kernel = self.var * chem.bulk_tanimoto(self.fps, self.fps) + NOISE * self.var * np.eye(len(y))
        self.chol = np.linalg.cholesky(kernel)
        self.alpha = _cho_solve(self.chol, y - self.mean)
        return self

    def predict(self, fps: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (M,) of the objective at each candidate fingerprint."""
        if not self.fps:
            return np.full(len(fps), self.mean), np.full(len(fps), math.sqrt(self.var))
        cross = self.var * chem.bulk_tanimoto(fps, self.fps)  # (M, N)
        mean = self.mean + cross @ self.alpha
        v = np.linalg.solve(self.chol, cross.T)  # (N, M)
        variance = np.clip(self.var - (v**2).sum(axis=0), 1e-12, None)
        return mean, np.sqrt(variance)


def _cho_solve(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    """K^-1 b from the Cholesky factor L of K (K = L L^T)."""
    return np.linalg.solve(chol.T, np.linalg.solve(chol, b))


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """EI of Gaussian predictions (M,) over ``best`` (``bayes_opt.log_expected_improvement``, exponentiated)."""
    log_ei = log_expected_improvement(torch.as_tensor(mean, dtype=torch.float64),
                                      torch.as_tensor(sd, dtype=torch.float64), best)
    return log_ei.exp().numpy()
