"""The table ``molvae sample`` writes: samples, their validity and canonical form, RDKit scores, novelty against the
training set, and a summary of the run."""

from __future__ import annotations

import time

import pandas as pd

from molvae.chemistry import chem
from molvae.chemistry.novelty import known
from molvae.chemistry.scoring import score_smiles
from molvae.model.latent import LatentModel


def sample_table(
    vae: LatentModel, n: int, temperature: float | None = None, seed: int | None = None, source: str = "prior",
    valid_only: bool = False, unique: bool = False, score: bool = True, n_jobs: int = 0, syntax_mask: bool = True,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """``n`` samples of ``vae`` as rows (smiles, valid, canonical_smiles, scores unless ``score`` is False, novel when
    the training set is known) and a summary: n, valid, unique and novel fractions, seconds, molecules per second."""
    start = time.perf_counter()
    raw = vae.sample(n, temperature=temperature, seed=seed, source=source, syntax_mask=syntax_mask)
    if score:
        frame = score_smiles(raw, n_jobs=n_jobs)
    else:
        frame = pd.DataFrame({"smiles": raw, "canonical_smiles": chem.canonicalize_many(raw)})
        frame.insert(1, "valid", frame.canonical_smiles.notna())
    valid = frame[frame.valid]
    table = vae.training_hashes()
    distinct = valid.canonical_smiles.unique().tolist()
    if table is not None:
        canonical = [c if v else None for v, c in zip(frame.valid, frame.canonical_smiles)]
        frame["novel"] = frame.valid & ~known(canonical, table)
    summary = {
        "n": n,
        "valid": len(valid) / n,
        "unique": len(distinct) / max(1, len(valid)),
        "novel": (frame.canonical_smiles[frame.novel].nunique() / max(1, len(distinct))
                  if table is not None else float("nan")),
    }
    if valid_only:
        frame = frame[frame.valid]
    if unique:
        frame = frame[frame.valid].drop_duplicates("canonical_smiles")
    summary["seconds"] = time.perf_counter() - start
    summary["molecules_per_s"] = n / summary["seconds"]
    return frame.reset_index(drop=True), summary

