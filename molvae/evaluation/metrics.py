"""Distribution metrics of generated molecules, computed the way MOSES (molsets 0.3.1) defines them.

- ``valid``: share of strings RDKit parses into a molecule with atoms ('' is invalid).
- ``unique@k``: distinct canonical SMILES among the first k valid molecules, over k (or over all valid ones if
  fewer than k exist).
- ``novelty``: share of distinct valid canonical molecules absent from the training set.
- ``IntDiv``/``IntDiv2``: 1 - mean over generated x of (mean over generated y of T(x, y)^p)^(1/p), p = 1, 2; T is
  Tanimoto on Morgan fingerprints (radius 2, 1024 bits); all pairs, x = y included, as MOSES does.
- ``SNN``: mean over generated x of the largest T(x, r) over the reference set.
- ``Frag``/``Scaf``: cosine similarity of BRICS-fragment counts / Bemis-Murcko scaffold counts (scaffolds with at
  least two rings), generated vs reference.
- ``Filters``: share of valid molecules with atoms C N S O F Cl Br H only, no charge, no ring of 8 or more atoms, and
  no match of the MCF and PAINS structural alerts (the MOSES pattern files, ``molvae/resources``).
- ``logP``/``SA``/``QED``/``weight``: 1-D Wasserstein distance between generated and reference values.
- ``FCD``: Frechet ChemNet Distance with ``fcd_torch`` (the optional extra ``metrics``).

Every metric after ``valid`` is computed on the valid molecules, in canonical form, duplicates kept (as MOSES).
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from tqdm.auto import tqdm

from molvae.chemistry import chem
from molvae.errors import ConfigError

MORGAN_RADIUS, MORGAN_BITS = 2, 1024
ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
PROPERTIES = ("logP", "SA", "QED", "weight")
RESOURCES = Path(__file__).parent.parent / "resources"
PARALLEL_MIN = 2000


# ---------------------------------------------------------------------------------------------------- per molecule


@lru_cache(maxsize=1)
def _alerts() -> tuple[tuple[Chem.Mol, DataStructs.ExplicitBitVect], ...]:
    """The MCF and PAINS SMARTS patterns with their pattern fingerprints (compiled once per process)."""
    patterns = []
    with open(RESOURCES / "mcf.csv", newline="") as handle:
        patterns += [row["smarts"] for row in csv.DictReader(handle)]
    with open(RESOURCES / "wehi_pains.csv", newline="") as handle:
        patterns += [row[0].strip() for row in csv.reader(handle)]
    queries = [Chem.MolFromSmarts(p) for p in patterns]
    return tuple((q, Chem.PatternFingerprint(q)) for q in queries)


def passes_filters(mol: Chem.Mol, screen: bool = True) -> bool:
    """The MOSES filters: allowed atoms, no charge, no ring of >= 8 atoms, no MCF/PAINS alert.

    ``screen`` skips the substructure search for alerts whose pattern fingerprint is not contained in the
    molecule's (a necessary condition for a match, so the answer is the same, about 10x sooner).
    """
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        return False
    if any(atom.GetFormalCharge() != 0 or atom.GetSymbol() not in ALLOWED_ATOMS for atom in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    if not screen:
        return not any(with_h.HasSubstructMatch(alert) for alert, _ in _alerts())
    bits = Chem.PatternFingerprint(with_h)
    return not any(
        DataStructs.AllProbeBitsMatch(query_bits, bits) and with_h.HasSubstructMatch(alert)
        for alert, query_bits in _alerts()
    )


def fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the pieces left when every BRICS bond is cut."""
    return Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split(".")


def scaffold(mol: Chem.Mol, min_rings: int = 2) -> str | None:
    """Bemis-Murcko scaffold SMILES, or None when it has fewer than ``min_rings`` rings."""
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smiles = Chem.MolToSmiles(core)
    if not smiles or core.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


@dataclass
class Features:
    """What the metrics need of a set of valid molecules (rows in input order)."""

    fingerprints: np.ndarray  # (N, 1024) uint8
    fragments: Counter = field(default_factory=Counter)
    scaffolds: Counter = field(default_factory=Counter)
    passes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (N,)
    properties: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N,)


def _features_chunk(
    smiles: Sequence[str], filters: bool = True
) -> tuple[np.ndarray, Counter, Counter, list[bool], list[list[float]]]:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    fps = np.zeros((len(smiles), MORGAN_BITS), dtype=np.uint8)
    frags: Counter = Counter()
    scafs: Counter = Counter()
    passes, props = [], []
    with chem.quiet_rdkit():
        for i, s in enumerate(smiles):
            mol = chem.to_mol(s)
            if mol is None:
                raise ConfigError(f"invalid molecule {s!r} among the molecules to describe")
            fps[i] = generator.GetFingerprintAsNumPy(mol)
            frags.update(fragments(mol))
            core = scaffold(mol)
            if core is not None:
                scafs[core] += 1
            passes.append(passes_filters(mol) if filters else True)
            values = chem.properties_of(mol)
            props.append([values["logP"], values["SA"], values["qed"], values["MW"]])
    return fps, frags, scafs, passes, props


def describe(smiles: Sequence[str], n_jobs: int = 0, progress: bool = False, filters: bool = True) -> Features:
    """Fingerprints, fragment and scaffold counts, filter results (unless ``filters`` is off: all True) and
    properties of valid SMILES, on ``n_jobs`` processes (0: all cores)."""
    n_jobs = n_jobs or os.cpu_count() or 1
    size = 1000
    chunks = [list(smiles[i : i + size]) for i in range(0, len(smiles), size)]
    bar = tqdm(total=len(smiles), disable=not progress, desc="describe", unit="mol")
    parts = []
    if n_jobs == 1 or len(smiles) < PARALLEL_MIN:
        for chunk in chunks:
            parts.append(_features_chunk(chunk, filters))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            for part in pool.map(_features_chunk, chunks, [filters] * len(chunks)):
                parts.append(part)
                bar.update(len(part[3]))
    bar.close()
    out = Features(np.zeros((0, MORGAN_BITS), dtype=np.uint8))
    if parts:
        out.fingerprints = np.concatenate([p[0] for p in parts])
    for _, frags, scafs, _, _ in parts:
        out.fragments.update(frags)
        out.scaffolds.update(scafs)
    out.passes = np.array([x for p in parts for x in p[3]], dtype=bool)
    values = np.array([x for p in parts for x in p[4]], dtype=np.float64).reshape(-1, len(PROPERTIES))
    out.properties = {name: values[:, i] for i, name in enumerate(PROPERTIES)}
    return out


# ---------------------------------------------------------------------------------------------------- set metrics


def fraction_valid(smiles: Sequence[str | None]) -> float:
    if not smiles:
        raise ConfigError("no molecules to evaluate")
    return sum(c is not None for c in chem.canonicalize_many([s or "" for s in smiles])) / len(smiles)


def unique_at(canonical: Sequence[str], k: int) -> float:
    """Distinct molecules among the first k valid canonical SMILES, over their number (NaN when none)."""
    head = list(canonical[:k])
    return len(set(head)) / len(head) if head else math.nan


def novelty(canonical: Sequence[str], train: set[str]) -> float:
    """Share of distinct molecules not in ``train`` (NaN when none)."""
    distinct = set(canonical)
    return len(distinct - train) / len(distinct) if distinct else math.nan


def tanimoto_aggregate(
    reference: np.ndarray, generated: np.ndarray, agg: str = "max", p: float = 1.0, batch: int = 4096
) -> np.ndarray:
    """For each generated fingerprint (G, bits): max, or (mean of T^p)^(1/p), of Tanimoto to every reference row.

    Two empty fingerprints have Tanimoto 1 (as MOSES). Blocks of (batch, batch) similarities in float32, worked on in
    place (the element-wise passes over R x G pairs, not the bit-count products, dominate the time); sums in float64.
    """
    gen = torch.from_numpy(generated).float()
    out = torch.zeros(len(gen), dtype=torch.float64)
    gen_bits = gen.sum(1)
    for start in range(0, len(reference), batch):
        ref = torch.from_numpy(reference[start : start + batch]).float()
        ref_bits = ref.sum(1, keepdim=True)
        for g0 in range(0, len(gen), batch):
            g = gen[g0 : g0 + batch]
            both = ref @ g.T  # (R, G) bits in common
            union = (ref_bits + gen_bits[g0 : g0 + batch].unsqueeze(0)).sub_(both)
            sim = both.div_(union).nan_to_num_(nan=1.0)  # 0 / 0: two empty fingerprints
            if agg == "max":
                out[g0 : g0 + len(g)] = torch.maximum(out[g0 : g0 + len(g)], sim.max(0).values.double())
            else:
                out[g0 : g0 + len(g)] += (sim if p == 1 else sim.pow_(p)).sum(0, dtype=torch.float64)
    if agg == "mean":
        out = (out / len(reference)) ** (1.0 / p)
    return out.numpy()


def internal_diversity(fingerprints: np.ndarray, p: float = 1.0) -> float:
    return float(1.0 - tanimoto_aggregate(fingerprints, fingerprints, agg="mean", p=p).mean())


def cos_similarity(reference: Counter, generated: Counter) -> float:
    """Cosine similarity of two count tables (missing keys count 0); NaN when either is empty."""
    if not reference or not generated:
        return math.nan
    keys = sorted(set(reference) | set(generated))
    a = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    b = np.array([generated.get(k, 0) for k in keys], dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein distance between two samples: the area between their empirical CDFs."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    if not len(a) or not len(b):
        return math.nan
    points = np.concatenate([a, b])
    points.sort(kind="mergesort")
    widths = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, points[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def compare(generated: Features, reference: Features, suffix: str) -> dict[str, float]:
    """SNN, Frag, Scaf and property distances of generated vs one reference set, keys ending in ``/suffix``."""
    out = {
        f"SNN/{suffix}": float(tanimoto_aggregate(reference.fingerprints, generated.fingerprints).mean())
        if len(generated.fingerprints) and len(reference.fingerprints) else math.nan,
        f"Frag/{suffix}": cos_similarity(reference.fragments, generated.fragments),
        f"Scaf/{suffix}": cos_similarity(reference.scaffolds, generated.scaffolds),
    }
    for name in PROPERTIES:
        out[f"{name}/{suffix}"] = wasserstein(generated.properties[name], reference.properties[name])
    return out
