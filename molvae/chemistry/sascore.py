"""Synthetic accessibility score (Ertl & Schuffenhauer, J. Cheminform. 2009), the numbers of RDKit's Contrib
``sascorer``, with its fragment table held in two sorted arrays instead of a dict.

RDKit's ``sascorer`` builds a 705,000-entry Python dict the first time a process scores a molecule (0.7-1.5 s on
this 2-core machine); every scoring worker pays it again. Here the table is two sorted arrays, cached as .npz after
the first read (loaded in milliseconds), and a molecule's fragments are looked up in one vectorized search. Same
formula, constants and fingerprint (Morgan radius 2 counts); tests/test_sascore.py checks agreement to 1e-9.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator, rdMolDescriptors

UNKNOWN_FRAGMENT = -4.0  # score of a fragment absent from the table
_FINGERPRINT = rdFingerprintGenerator.GetMorganGenerator(radius=2)
_TABLE: tuple[np.ndarray, np.ndarray] | None = None


def _table_file() -> Path:
    from rdkit.Contrib.SA_Score import sascorer  # only to find the installed table; nothing runs at import

    return Path(sascorer.__file__).with_name("fpscores.pkl.gz")


def fragment_table() -> tuple[np.ndarray, np.ndarray]:
    """(fragment ids (N,) int64 sorted, their scores (N,) float64), once per process: from the cache folder
    (``molvae.outputs.cache_dir``), else read from RDKit's table and cached there (a few ms instead of ~0.6 s)."""
    global _TABLE
    if _TABLE is None:
        from molvae.outputs import cache_dir, write_cache

        source = _table_file()
        stat = source.stat()
        target = cache_dir() / f"sa_fragments_{stat.st_size}_{stat.st_mtime_ns}.npz"
        try:
            with np.load(target) as cached:
                _TABLE = (cached["ids"], cached["scores"])
        except Exception:  # absent, truncated or foreign (a bad zip is not an OSError): rebuild it, never trust it
            _TABLE = _read_rdkit_table(source)
            buffer = io.BytesIO()
            np.savez(buffer, ids=_TABLE[0], scores=_TABLE[1])
            write_cache(target, buffer.getvalue())  # a read-only cache folder costs speed, never the score
    return _TABLE


def _read_rdkit_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """RDKit's table, rows [score, id, id, ...], as sorted arrays; where an id appears twice the later row wins, as
    in ``sascorer``."""
    with gzip.open(path) as handle:
        rows = pickle.load(handle)  # RDKit's own data file, shipped with the installed RDKit
    sizes = np.fromiter((len(row) - 1 for row in rows), dtype=np.int64, count=len(rows))
    ids = np.fromiter((i for row in rows for i in row[1:]), dtype=np.int64, count=int(sizes.sum()))
    scores = np.repeat(np.fromiter((float(row[0]) for row in rows), dtype=np.float64, count=len(rows)), sizes)
    order = np.argsort(ids, kind="stable")  # equal ids keep file order: the last one is the later row
    ids, scores = ids[order], scores[order]
    last = np.append(ids[1:] != ids[:-1], True)
    return ids[last], scores[last]


def sa_score(mol: Chem.Mol) -> float:
    """SA score of a molecule: 1 (easy to make) to 10 (hard); NaN for a molecule without atoms."""
    n_atoms = mol.GetNumAtoms()
    if n_atoms == 0:
        return math.nan
    ids, scores = fragment_table()
    counts = _FINGERPRINT.GetSparseCountFingerprint(mol).GetNonzeroElements()  # {fragment id: count}
    keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
    fragment_scores = np.where(ids[at] == keys, scores[at], UNKNOWN_FRAGMENT)
    fragments = float(fragment_scores @ weights) / float(weights.sum())

    chiral = len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))
    bridgeheads = rdMolDescriptors.CalcNumBridgeheadAtoms(mol)
    spiro = rdMolDescriptors.CalcNumSpiroAtoms(mol)
    macrocycles = any(len(ring) > 8 for ring in mol.GetRingInfo().AtomRings())
    complexity = -(n_atoms**1.005 - n_atoms) - math.log10(chiral + 1) - math.log10(spiro + 1) \
        - math.log10(bridgeheads + 1) - (math.log10(2) if macrocycles else 0.0)
    symmetry = math.log(n_atoms / len(counts)) * 0.5 if n_atoms > len(counts) else 0.0  # fingerprint density

    raw = fragments + complexity + symmetry
    low, high = -4.0, 2.5
    score = 11.0 - (raw - low + 1) / (high - low) * 9.0  # onto 1..10, easy = low
    if score > 8.0:
        score = 8.0 + math.log(score - 8.0)  # smooth the hard end
    return min(10.0, max(1.0, score))
