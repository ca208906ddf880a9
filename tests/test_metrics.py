from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from molvae.chemistry import chem
from molvae.evaluation.metrics import (
    compare,
    cos_similarity,
    describe,
    fraction_valid,
    internal_diversity,
    novelty,
    passes_filters,
    tanimoto_aggregate,
    unique_at,
    wasserstein,
)

SET = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCNCC1", "O=C(O)c1ccccc1", "CCN(CC)CC"]


def test_validity_counts_empty_and_unparsable_strings_as_invalid() -> None:
    assert fraction_valid(["CCO", "", "C1CC", "c1ccccc1"]) == 0.5


def test_unique_at_k_and_novelty() -> None:
    assert unique_at(["CCO", "CCO", "CCN", "CCC"], 2) == 0.5
    assert unique_at(["CCO", "CCN"], 10) == 1.0  # fewer than k: all of them
    assert math.isnan(unique_at([], 10))
    assert novelty(["CCO", "CCO", "CCN"], {"CCO"}) == 0.5


def test_tanimoto_of_a_set_with_itself() -> None:
    fps = describe(SET, n_jobs=1).fingerprints
    assert np.allclose(tanimoto_aggregate(fps, fps, "max"), 1.0)
    # IntDiv of one molecule repeated is 0; of distinct molecules it is positive and IntDiv2 <= IntDiv
    same = describe(["CCO"] * 5, n_jobs=1).fingerprints
    assert internal_diversity(same) == pytest.approx(0.0)
    assert 0 < internal_diversity(fps, 2) <= internal_diversity(fps, 1) < 1


def test_tanimoto_matches_rdkit_on_every_pair() -> None:
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    bitvects = [gen.GetFingerprint(chem.to_mol(s)) for s in SET]
    expected = np.array([DataStructs.BulkTanimotoSimilarity(b, bitvects) for b in bitvects])  # (R, G) symmetric
    fps = describe(SET, n_jobs=1).fingerprints
    assert np.allclose(tanimoto_aggregate(fps, fps, "mean", p=1), expected.mean(0))
    assert np.allclose(tanimoto_aggregate(fps, fps, "mean", p=2), np.sqrt((expected**2).mean(0)))


def test_identical_sets_compare_perfectly_and_disjoint_ones_do_not() -> None:
    a = describe(SET, n_jobs=1)
    same = compare(a, a, "Test")
    assert same["SNN/Test"] == pytest.approx(1.0) and same["Frag/Test"] == pytest.approx(1.0)
    assert all(same[f"{p}/Test"] == 0 for p in ("logP", "SA", "QED", "weight"))
    other = compare(describe(["FC(F)(F)C(F)(F)F", "ClCCl"], n_jobs=1), a, "Test")
    assert other["SNN/Test"] < 0.3 and other["Frag/Test"] == 0.0


def test_cosine_similarity_and_wasserstein_by_hand() -> None:
    assert cos_similarity(Counter(a=1, b=1), Counter(a=1)) == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(cos_similarity(Counter(), Counter(a=1)))
    assert wasserstein(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(1.0)
    assert wasserstein(np.array([0.0]), np.array([0.0, 3.0])) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "smiles, passes",
    [
        ("CC(=O)Nc1ccc(O)cc1", True),
        ("C[N+](C)(C)C", False),  # charged
        ("C1CCCCCCC1", False),  # ring of 8
        ("CC[Si](C)C", False),  # atom not allowed
        ("O=C1C(=Cc2ccccc2)SC(=S)N1", False),  # PAINS: ene_five_het / rhodanine
    ],
)
def test_filters(smiles: str, passes: bool) -> None:
    mol = chem.to_mol(smiles)
    assert passes_filters(mol) is passes and passes_filters(mol, screen=False) is passes
