"""RDKit helpers: parse, canonicalize, validate and score molecules. No torch here.

Functions that can fail on chemistry return ``X | None``. RDKit's log is silenced in one place: ``quiet_rdkit``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.rdchem import Mol

from molvae.chemistry import sascore

# Penalized logP standardisation used in the JT-VAE literature (Jin et al. 2018, 250k ZINC statistics):
# (logP - mean)/std - (SA - mean)/std - (cycle - mean)/std, with SA taken with a minus sign.
_LOGP_MEAN, _LOGP_STD = 2.4570953396190123, 1.434324401111988
_SA_MEAN, _SA_STD = -3.0525811293166134, 0.8335207024513095
_CYCLE_MEAN, _CYCLE_STD = -0.0485696876403053, 0.2860212110245455

PROPERTY_NAMES = ("qed", "logP", "SA", "MW", "penalized_logP")


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's log (parse warnings and errors, MolStandardize's notes) inside the block; blocks nest, and each
    gives back the log levels it found (RDKit keeps info and debug off unless told: left on, every deprecated call of
    a library such as GuacaMol writes a line)."""
    block = rdBase.BlockLogs()
    try:
        yield
    finally:
        del block


MAX_SMILES_CHARS = 10_000  # longer strings are not parsed: treated as invalid (a million-character line costs nothing)


def to_mol(smiles: str) -> Mol | None:
    """The RDKit molecule of a SMILES string, or None if it does not parse, has no atom ('' is invalid) or is longer
    than ``MAX_SMILES_CHARS`` characters (not parsed at all)."""
    with quiet_rdkit():
        return _parse(smiles)


def _parse(smiles: str) -> Mol | None:
    """``to_mol`` without silencing RDKit's log (the caller does, once for many molecules)."""
    if not isinstance(smiles, str) or not smiles.strip() or len(smiles) > MAX_SMILES_CHARS:
        return None
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises on some pathological inputs (e.g. embedded NUL)
        return None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical isomeric SMILES, or None for an invalid molecule."""
    mol = to_mol(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def canonicalize_many(smiles: Sequence[str]) -> list[str | None]:
    """``canonical_smiles`` of each entry, with the log silenced once for the whole list. One molecule is held at a
    time (a list of a million RDKit molecules takes tens of GB)."""
    with quiet_rdkit():
        return [None if (mol := _parse(s)) is None else Chem.MolToSmiles(mol) for s in smiles]


def kekule_smiles(canonical: str) -> str | None:
    """The Kekulé form of a canonical SMILES (no aromatic atoms or bonds: ``c1ccccc1`` -> ``C1=CC=CC=C1``), or None
    if RDKit cannot kekulize it. Written from the canonical string, so one molecule always gives one string."""
    mol = to_mol(canonical)
    if mol is None:
        return None
    try:
        Chem.Kekulize(mol, clearAromaticFlags=True)
    except Exception:  # RDKit's KekulizeException: no alternating bond assignment exists
        return None
    return Chem.MolToSmiles(mol, kekuleSmiles=True)


def random_spellings(canonical: Sequence[str], kekule: bool, seed: int) -> list[str | None]:
    """One randomized SMILES of each molecule (a random starting atom and traversal order; Arus-Pous et al. 2019),
    in Kekulé form when ``kekule``. Seeded: molecule i is written with seed ``seed + i``, so the same seed gives the
    same strings. None where the string is invalid or cannot be kekulized."""
    out: list[str | None] = []
    with quiet_rdkit():
        for i, smiles in enumerate(canonical):
            mol = to_mol(smiles)
            if mol is not None and kekule:
                try:
                    Chem.Kekulize(mol, clearAromaticFlags=True)
                except Exception:  # RDKit's KekulizeException
                    mol = None
            out.append(None if mol is None else
                       Chem.MolToRandomSmilesVect(mol, 1, randomSeed=(seed + i) % 2**31, kekuleSmiles=kekule)[0])
    return out


def written_many(canonical: Sequence[str], kekule: bool) -> list[str | None]:
    """The strings a model reads for canonical SMILES: themselves, or their Kekulé forms when ``kekule``."""
    if not kekule:
        return list(canonical)
    with quiet_rdkit():
        return [kekule_smiles(s) for s in canonical]


def is_valid(smiles: str) -> bool:
    """True if RDKit parses the string into a molecule with at least one atom."""
    return to_mol(smiles) is not None


def qed(mol: Mol) -> float:
    return float(QED.qed(mol))


def logp(mol: Mol) -> float:
    """Crippen logP."""
    return float(Crippen.MolLogP(mol))


def sa_score(mol: Mol) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009; RDKit Contrib's numbers, molvae.chemistry.sascore), 1 (easy) to 10
    (hard)."""
    return sascore.sa_score(mol)


def mol_weight(mol: Mol) -> float:
    return float(Descriptors.MolWt(mol))


def long_cycle_penalty(mol: Mol) -> int:
    """Size beyond 6 of the largest ring (0 when no ring is larger than 6)."""
    sizes = [len(ring) for ring in mol.GetRingInfo().AtomRings()]
    return max(0, max(sizes, default=0) - 6)


def penalized_logp(mol: Mol, standardized: bool = True) -> float:
    """logP - SA - long-cycle penalty; standardized with the JT-VAE 250k-ZINC statistics unless told not to."""
    return combine_penalized_logp(logp(mol), sa_score(mol), long_cycle_penalty(mol), standardized)


def combine_penalized_logp(log_p: float, sa: float, cycle: int, standardized: bool = True) -> float:
    """Penalized logP from its parts (logP, SA score, long-cycle penalty), for callers that have them already."""
    if not standardized:
        return log_p - sa - cycle
    return (log_p - _LOGP_MEAN) / _LOGP_STD + (-sa - _SA_MEAN) / _SA_STD + (-cycle - _CYCLE_MEAN) / _CYCLE_STD


def morgan_fingerprint(mol: Mol, radius: int = 2, n_bits: int = 2048) -> DataStructs.ExplicitBitVect:
    """Morgan (ECFP-like) bit vector; radius 2, 2048 bits is the JT-VAE similarity protocol."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits).GetFingerprint(mol)


FINGERPRINTS = ("bits", "counts")  # the two similarity measures of the constrained-optimization literature


def morgan_counts(mol: Mol, radius: int = 2) -> DataStructs.UIntSparseIntVect:
    """Unhashed Morgan count fingerprint (JT-VAE's ``AllChem.GetMorganFingerprint(mol, 2)``: the same values)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius).GetSparseCountFingerprint(mol)


def similarity_fingerprint(mol: Mol, fingerprint: str = "bits") -> DataStructs.ExplicitBitVect:
    """The fingerprint ``tanimoto`` compares: Morgan r2 2048 bits (``bits``) or unhashed Morgan r2 counts
    (``counts``); for callers that compare one molecule with many (compute it once)."""
    return morgan_counts(mol) if fingerprint == "counts" else morgan_fingerprint(mol)


def fingerprint_tanimoto(a: DataStructs.ExplicitBitVect, b: DataStructs.ExplicitBitVect) -> float:
    """Tanimoto similarity of two fingerprints of the same kind (``similarity_fingerprint``)."""
    return float(DataStructs.TanimotoSimilarity(a, b))


def bulk_tanimoto(queries: Sequence[DataStructs.ExplicitBitVect],
                  references: Sequence[DataStructs.ExplicitBitVect]) -> np.ndarray:
    """Tanimoto similarities (Q, R) of each query fingerprint to each reference fingerprint (RDKit's bulk C++ loop)."""
    out = np.zeros((len(queries), len(references)), dtype=np.float64)
    references = list(references)
    if references:
        for i, query in enumerate(queries):
            out[i] = DataStructs.BulkTanimotoSimilarity(query, references)
    return out


def tanimoto(a: Mol, b: Mol, fingerprint: str = "bits") -> float:
    """Tanimoto similarity of two molecules: of their Morgan r2 2048-bit vectors (``bits``, the default) or of their
    unhashed Morgan r2 count fingerprints (``counts``, JT-VAE's original similarity)."""
    return fingerprint_tanimoto(similarity_fingerprint(a, fingerprint), similarity_fingerprint(b, fingerprint))


_LONG_CHAIN = Chem.MolFromSmarts("-".join(["[C;!R;!$(C=*);!$(C#*)]"] * 8))
_ARYL_LINK = Chem.MolFromSmarts("[a]-!@[a]")
MAX_ARYL_LINKS = 3
MAX_HEAVY_ATOMS = 38


def is_degenerate(mol: Mol) -> bool:
    """True for the degenerate molecules latent optimizers of (penalized) logP run off to, far from any training
    molecule: a chain of 8 or more acyclic sp3 carbons; more than ``MAX_ARYL_LINKS`` single bonds joining two
    aromatic rings (oligophenylene rods; no molecule in a 30,000 sample of the MOSES/ZINC training set has more than
    3); or more than ``MAX_HEAVY_ATOMS`` heavy atoms (the largest ZINC-250k molecule, the size limit GCPN and MolDQN
    put on this benchmark; logP grows with size, so an unlimited search just grows the molecule)."""
    return (mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS or mol.HasSubstructMatch(_LONG_CHAIN)
            or len(mol.GetSubstructMatches(_ARYL_LINK)) > MAX_ARYL_LINKS)


def properties(smiles: str) -> dict[str, float]:
    """QED, logP, SA, MW and penalized logP of a SMILES string; NaN for each when it is invalid."""
    mol = to_mol(smiles)
    if mol is None:
        return {name: math.nan for name in PROPERTY_NAMES}
    return properties_of(mol)


def properties_of(mol: Mol) -> dict[str, float]:
    """QED, logP, SA, MW and penalized logP of a molecule, each part computed once: QED's own descriptors already
    hold Crippen logP (``ALOGP``) and the average molecular weight (``MW``), so neither is computed twice."""
    parts = QED.properties(mol)
    log_p, sa = float(parts.ALOGP), sa_score(mol)
    return {
        "qed": float(QED.qed(mol, qedProperties=parts)),
        "logP": log_p,
        "SA": sa,
        "MW": float(parts.MW),
        "penalized_logP": combine_penalized_logp(log_p, sa, long_cycle_penalty(mol)),
    }
