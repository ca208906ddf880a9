"""Deterministic train/validation splits and length-bucketed batches of token ids (single- and multi-process)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from molvae.errors import DataError


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, validation) index arrays; each gets at least one of n >= 2 molecules."""
    if n < 2:
        raise DataError(f"need at least 2 molecules to hold one out for validation, got {n}")
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def bucket_batches(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> list[np.ndarray]:
    """Batches (positions into ``lengths``) of similar length, in a shuffled order fixed by (seed, epoch).

    Molecules are shuffled, cut into pools of 64 batches, sorted by length inside each pool and cut into
    batches; the batch order is shuffled again. With ``world_size`` > 1, ``batch_size`` is per process: global
    batches of ``batch_size * world_size`` are formed exactly as a single process with that batch size would, and
    rank r takes rows r, r + world_size, ... of each, so the ranks' batches together are the single-process batch
    (a last global batch too small to give every rank a row is dropped).
    """
    global_size = batch_size * world_size
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = global_size * 64
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + global_size] for i in range(0, len(chunk), global_size))
    batches = [batches[i] for i in rng.permutation(len(batches))]
    if world_size > 1:
        batches = [b[rank::world_size] for b in batches if len(b) >= world_size]
    return batches


def collate(ids: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids (B, T) int64 cut to the longest molecule of the batch, and lengths (B,) int64."""
    width = int(lengths[rows].max())
    return torch.from_numpy(ids[rows, :width].astype(np.int64)), torch.from_numpy(lengths[rows].astype(np.int64))


def iter_batches(ids: np.ndarray, lengths: np.ndarray, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches in the given order (for evaluation), each cut to its own longest molecule."""
    for start in range(0, len(lengths), batch_size):
        yield collate(ids, lengths, np.arange(start, min(start + batch_size, len(lengths))))
