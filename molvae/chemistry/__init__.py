"""Chemistry with RDKit and NumPy only (no torch): parsing and canonical forms, standardization, SA score, property
scores of sampled molecules, and compact hashes of canonical SMILES for novelty."""

from molvae.chemistry.chem import (
    canonical_smiles,
    canonicalize_many,
    is_degenerate,
    is_valid,
    penalized_logp,
    properties,
    tanimoto,
    to_mol,
)
from molvae.chemistry.novelty import known, smiles_hashes
from molvae.chemistry.scoring import SCORE_COLUMNS, score_smiles

__all__ = [
    "SCORE_COLUMNS",
    "canonical_smiles",
    "canonicalize_many",
    "is_degenerate",
    "is_valid",
    "known",
    "penalized_logp",
    "properties",
    "score_smiles",
    "smiles_hashes",
    "tanimoto",
    "to_mol",
]
