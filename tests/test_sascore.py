from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Contrib.SA_Score import sascorer

from molvae.chemistry.sascore import fragment_table, sa_score

DATA = Path(__file__).parent / "data"
ODD = [
    "C1CCCCCCCCCCC1",  # macrocycle
    "C1CCC2(CC1)CCCC2",  # spiro
    "C1CC2CCC1C2",  # bridged
    "C[C@H](N)C(=O)O",  # stereocentre
    "CC(F)(Cl)Br",  # unassigned stereocentre
    "C",
    "[Na+].[Cl-]",
    "c1ccc2c(c1)c1ccccc1c1ccccc21",
    "CC12CCC3C(CCC4CC(O)CCC34C)C1CCC2O",
    "[2H]C12C3([Se])C4([Te])C1([As])C1([Si])C2([B])C3([P])C41[Ge]",  # SA 8.24: the smoothed hard end
    "FC12C3(Cl)C4(Br)C1(I)C1(F)C2(Cl)C3(Br)C41I",  # cage
]


def test_sa_score_matches_rdkit_sascorer_on_drug_like_and_odd_molecules() -> None:
    smiles = pd.read_csv(DATA / "small.csv")["smiles"].tolist() + ODD
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        assert sa_score(mol) == pytest.approx(sascorer.calculateScore(mol), abs=1e-9), s


def test_fragment_table_is_cached_sorted_without_duplicates_and_a_molecule_without_atoms_is_nan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    import molvae.chemistry.sascore as module

    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(module, "_TABLE", None)
    ids, scores = fragment_table()
    assert len(list(tmp_path.glob("sa_fragments_*.npz"))) == 1
    monkeypatch.setattr(module, "_TABLE", None)
    monkeypatch.setattr(module, "_read_rdkit_table", lambda path: pytest.fail("the cache was not used"))
    cached_ids, cached_scores = fragment_table()
    assert (cached_ids == ids).all() and (cached_scores == scores).all()
    assert len(ids) == len(scores) > 100_000
    assert (ids[1:] > ids[:-1]).all()
    assert math.isnan(sa_score(Chem.Mol()))


def test_a_corrupt_cache_file_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import molvae.chemistry.sascore as module

    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(module, "_TABLE", None)
    ids, _ = fragment_table()
    (cached,) = tmp_path.glob("sa_fragments_*.npz")
    whole = cached.read_bytes()
    for damaged in (b"not an npz", whole[: len(whole) // 2]):  # foreign bytes; a zip cut short
        cached.write_bytes(damaged)
        monkeypatch.setattr(module, "_TABLE", None)
        assert (fragment_table()[0] == ids).all()
    monkeypatch.setattr(module, "_TABLE", None)
    with np.load(cached) as rebuilt:
        assert (rebuilt["ids"] == ids).all()
