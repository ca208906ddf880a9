from __future__ import annotations

import math

import pytest

from molvae.chemistry import chem


def test_empty_and_invalid_strings_are_not_molecules() -> None:
    assert chem.to_mol("") is None
    assert chem.to_mol("   ") is None
    assert chem.to_mol("C1CC") is None  # unclosed ring
    assert chem.to_mol("C(C") is None  # unclosed branch
    assert chem.to_mol("C(C)(C)(C)(C)C") is None  # bad valence
    assert chem.to_mol("[Xx]") is None  # unknown element
    assert chem.to_mol(None) is None  # type: ignore[arg-type]


def test_parse_errors_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    chem.to_mol("C1CC")
    chem.canonicalize_many(["C1CC", "C(C)(C)(C)(C)C"])
    assert capfd.readouterr().err == ""


def test_canonical_smiles_is_one_form_per_molecule() -> None:
    assert chem.canonical_smiles("OCC") == chem.canonical_smiles("C(O)C") == "CCO"
    assert chem.canonicalize_many(["OCC", "bad(", ""]) == ["CCO", None, None]


def test_properties_of_paracetamol() -> None:
    props = chem.properties("CC(=O)Nc1ccc(O)cc1")
    assert props["qed"] == pytest.approx(0.595, abs=1e-3)
    assert props["logP"] == pytest.approx(1.3506, abs=1e-4)
    assert props["SA"] == pytest.approx(1.407, abs=1e-3)
    assert props["MW"] == pytest.approx(151.165, abs=1e-3)
    raw = chem.penalized_logp(chem.to_mol("CC(=O)Nc1ccc(O)cc1"), standardized=False)
    assert raw == pytest.approx(1.3506 - 1.4073, abs=1e-3)  # no ring larger than 6


@pytest.mark.parametrize("smiles", ["CC(=O)Nc1ccc(O)cc1", "[2H]C([2H])([2H])Oc1ccccc1", "C[C@H](N)C(=O)O",
                                    "O=[N+]([O-])c1ccc(Cl)cc1", "C1CCCCCCCCC1", "[Na+].[Cl-]", "c1ccc2ccccc2c1Br"])
def test_properties_of_matches_each_descriptor_computed_alone(smiles: str) -> None:
    mol = chem.to_mol(smiles)
    props = chem.properties_of(mol)  # QED's parts reused for logP and MW
    assert props["qed"] == pytest.approx(chem.qed(chem.to_mol(smiles)), abs=1e-12)
    assert props["logP"] == pytest.approx(chem.logp(chem.to_mol(smiles)), abs=1e-12)
    assert props["MW"] == pytest.approx(chem.mol_weight(chem.to_mol(smiles)), abs=1e-9)
    assert props["SA"] == pytest.approx(chem.sa_score(chem.to_mol(smiles)), abs=1e-12)


def test_long_cycle_penalty_counts_ring_size_beyond_six() -> None:
    assert chem.long_cycle_penalty(chem.to_mol("C1CCCCCCC1")) == 2
    assert chem.long_cycle_penalty(chem.to_mol("CCO")) == 0


def test_properties_of_an_invalid_molecule_are_nan() -> None:
    assert all(math.isnan(v) for v in chem.properties("C1CC").values())


def test_kekule_form_is_one_string_per_molecule_without_aromatic_atoms() -> None:
    from molvae.chemistry.chem import canonical_smiles, kekule_smiles, written_many

    forms = {kekule_smiles(canonical_smiles(s)) for s in ["c1ccc(O)cc1", "Oc1ccccc1", "C1=CC=C(O)C=C1"]}
    assert len(forms) == 1 and not any(ch in next(iter(forms)) for ch in "cnos")
    assert canonical_smiles(next(iter(forms))) == canonical_smiles("Oc1ccccc1")
    assert written_many(["c1cc[nH]c1"], kekule=False) == ["c1cc[nH]c1"]
    assert written_many(["c1cc[nH]c1"], kekule=True) == ["C1=CNC=C1"]
    assert kekule_smiles("not a molecule") is None


@pytest.mark.parametrize("smiles", ["CCCCCCCCCC(=O)O", "CC(C)CCCCCCCCO",
                                    "c1ccc(-c2ccc(-c3ccc(-c4ccc(-c5ccccc5)cc4)cc3)cc2)cc1"])
def test_long_sp3_chains_and_oligoaryl_rods_are_degenerate(smiles: str) -> None:
    assert chem.is_degenerate(chem.to_mol(smiles))


@pytest.mark.parametrize("smiles", ["CCCCCCCC=CC", "C1CCCCCCCCC1", "c1ccc(-c2ccc(-c3ccc(-c4ccccc4)cc3)cc2)cc1",
                                    "Cc1cc(NC(=O)c2scnc2C2CC2)ncc1Br", "CCCCCCCOc1ccccc1"])
def test_drug_like_molecules_short_chains_and_terphenyls_are_not_degenerate(smiles: str) -> None:
    # 7 sp3 carbons, a double bond in the chain, a ring, 3 aryl-aryl bonds (the training data's maximum)
    assert not chem.is_degenerate(chem.to_mol(smiles))


def test_molecules_beyond_38_heavy_atoms_are_degenerate() -> None:
    glycines = [chem.to_mol("N" + "CC(=O)N" * k + "C") for k in (9, 10)]  # no chain, no aryl link
    assert [m.GetNumHeavyAtoms() for m in glycines] == [38, 42]
    assert [chem.is_degenerate(m) for m in glycines] == [False, True]


def test_quiet_blocks_nest_and_give_back_the_log_levels_they_found() -> None:
    from rdkit import rdBase

    before = rdBase.LogStatus()
    with chem.quiet_rdkit():
        with chem.quiet_rdkit():
            assert chem.to_mol("C1CC") is None
        assert "rdApp.error:disabled" in rdBase.LogStatus()
    assert rdBase.LogStatus() == before  # info and debug stay off: no deprecation lines from other libraries
