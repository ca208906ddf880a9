"""Training-set membership from 64-bit hashes of canonical SMILES, so a model file can tell which of its samples are
novel without the training file (250,000 molecules: 2 MB of int64 in the checkpoint)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def string_hashes(smiles: Sequence[str]) -> np.ndarray:
    """(N,) int64: the first 8 bytes of BLAKE2b of each string's UTF-8 text, in input order."""
    digests = (hashlib.blake2b(s.encode(), digest_size=8).digest() for s in smiles)
    return np.fromiter((int.from_bytes(d, "little", signed=True) for d in digests), dtype=np.int64, count=len(smiles))


def smiles_hashes(smiles: Sequence[str]) -> np.ndarray:
    """Sorted, unique int64 hashes (M,) of canonical SMILES, the table ``known`` looks molecules up in.

    Two different molecules share a hash with probability about N^2 / 2^65 (1.7e-9 for 250,000 molecules)."""
    return np.unique(string_hashes(smiles))


def known(canonical: Sequence[str | None], table: np.ndarray) -> np.ndarray:
    """(N,) bool: which canonical SMILES are in ``table`` (None, an invalid molecule, is never known).

    A binary search in the sorted table (``smiles_hashes`` writes it sorted; an unsorted one is sorted here first):
    O(N log M), where ``np.isin`` would sort the whole table on every call."""
    present = [i for i, s in enumerate(canonical) if s is not None]
    found = np.zeros(len(canonical), dtype=bool)
    if present and len(table):
        if np.any(table[1:] < table[:-1]):
            table = np.sort(table)
        wanted = string_hashes([canonical[i] for i in present])
        slots = np.minimum(np.searchsorted(table, wanted), len(table) - 1)
        found[present] = table[slots] == wanted
    return found
