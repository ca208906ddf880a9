"""RDKit scores of many SMILES as a table, on all cores with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
from tqdm.auto import tqdm

from molvae.chemistry import chem

SCORE_COLUMNS = ["smiles", "valid", "canonical_smiles", "qed", "logP", "SA", "MW", "penalized_logP"]
PARALLEL_MIN = 500  # below this, starting worker processes costs more than it saves


def _score_chunk(smiles: Sequence[str]) -> list[dict]:
    rows = []
    with chem.quiet_rdkit():
        for s in smiles:
            mol = chem.to_mol(s)
            if mol is None:
                rows.append({"smiles": s, "valid": False, "canonical_smiles": None})
                continue
            rows.append({"smiles": s, "valid": True, "canonical_smiles": chem.Chem.MolToSmiles(mol),
                         **chem.properties_of(mol)})
    return rows


def score_smiles(smiles: Sequence[str | None], n_jobs: int = 0, progress: bool = False) -> pd.DataFrame:
    """One row per input (invalid ones kept, ``valid=False``, scores empty): columns ``SCORE_COLUMNS``.

    ``n_jobs`` 0 means all cores; small inputs are scored in this process.
    """
    smiles = ["" if s is None else str(s) for s in smiles]
    n_jobs = n_jobs or os.cpu_count() or 1
    size = 500
    chunks = [smiles[i : i + size] for i in range(0, len(smiles), size)]
    bar = tqdm(total=len(smiles), disable=not progress, desc="score", unit="mol")
    rows: list[dict] = []
    if n_jobs == 1 or len(smiles) < PARALLEL_MIN:
        for chunk in chunks:
            rows.extend(_score_chunk(chunk))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            for part in pool.map(_score_chunk, chunks):
                rows.extend(part)
                bar.update(len(part))
    bar.close()
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    frame["valid"] = frame["valid"].astype(bool)
    return frame
