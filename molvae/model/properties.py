"""The property predictor: an MLP on z (``molvae.model.vae.PropertyHead``) learning numeric columns of the training file.

Trained jointly with the VAE (``--properties logP,qed,SAS``: a weighted MSE term on mu, as in chemical_vae) or fitted
afterwards on the encoded molecules of a frozen VAE (``fit_head``). Targets are standardized with the training
split's mean and standard deviation, which the head keeps as buffers, so a checkpoint predicts in the data's units.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from molvae.model.vae import PropertyHead, property_loss


def standardization(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (P,) of the known entries of (N, P) values (std 1 where a column is constant)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-unknown column: handled just below
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def prediction_errors(predicted: np.ndarray, target: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """Per property: mean absolute error, R^2 (1 - SSE/SST) and the number of known targets; inputs (N, P)."""
    out = {}
    for j, name in enumerate(names):
        known = ~np.isnan(target[:, j])
        y, p = target[known, j].astype(np.float64), predicted[known, j].astype(np.float64)
        if len(y) == 0:
            out[name] = {"mae": float("nan"), "r2": float("nan"), "n": 0}
            continue
        sst = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float(((y - p) ** 2).sum()) / sst if sst > 0 else float("nan")
        out[name] = {"mae": float(np.abs(y - p).mean()), "r2": r2, "n": int(len(y))}
    return out


def fit_head(
    z_train: torch.Tensor,
    y_train: np.ndarray,
    hidden: int = 128,
    epochs: int = 200,
    lr: float = 1e-3,
    batch_size: int = 256,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> PropertyHead:
    """A head fitted on fixed latent vectors z (N, Z) and targets (N, P) in data units (NaN = unknown)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mean, std = standardization(y_train)
    head = PropertyHead(z_train.shape[1], y_train.shape[1], hidden)
    head.mean.copy_(torch.from_numpy(mean))
    head.std.copy_(torch.from_numpy(std))
    target = torch.from_numpy((y_train - mean) / std).float()
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(z_train), generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            loss = property_loss(head(z_train[rows]), target[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
    return head.eval()


@torch.no_grad()
def predict(head: PropertyHead, z: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Predictions (N, P) in data units for z (N, Z)."""
    parts = [head.predict(z[i : i + batch_size]) for i in range(0, len(z), batch_size)]
    return torch.cat(parts).cpu().numpy() if parts else np.zeros((0, head.mean.shape[0]), dtype=np.float32)
