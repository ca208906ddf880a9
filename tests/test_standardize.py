"""Standardization to what a model can express (molvae.chemistry.standardize and MolVAE.standardize/encode)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae.chemistry.standardize import CHARGE, ISOTOPE, SALT, STEREO, standardize, summary
from molvae.errors import ConfigError, VocabularyError

NO_STEREO_NO_CHARGE = set("CNOS()=#123456") | {"Cl", "Br", "F"}


def _lacks(written: str) -> list[str]:
    """A stand-in vocabulary like the bundled model's: Kekulé atoms, no charges, no stereo, no isotopes."""
    from molvae.smiles.tokenizer import tokenize

    return sorted({t for t in tokenize(written) if t not in NO_STEREO_NO_CHARGE})


def test_a_readable_molecule_is_left_as_it_is_under_auto() -> None:
    result = standardize("CCO", _lacks, "auto", kekule=True)
    assert result.ok and result.changes == () and result.smiles == "CCO"


def test_a_counter_ion_is_removed_and_named() -> None:
    result = standardize("CCN.Cl", _lacks, "auto", kekule=True)
    assert result.ok and result.changes == (SALT,) and result.smiles == "CCN"


def test_an_inorganic_salt_is_not_turned_into_an_acid() -> None:
    result = standardize("[Na+].[Cl-]", _lacks, "auto", kekule=True)
    assert not result.ok and SALT not in result.changes


def test_a_protonated_amine_is_neutralized_not_stripped() -> None:
    result = standardize("CC[NH+](C)C", _lacks, "auto", kekule=True)
    assert result.ok and result.changes == (CHARGE,) and result.smiles == "CCN(C)C"


def test_stereo_is_removed_only_when_the_vocabulary_needs_it() -> None:
    result = standardize("C[C@H](N)C(=O)O", _lacks, "auto", kekule=True)
    assert result.ok and result.changes == (STEREO,) and "@" not in result.smiles
    keeps = standardize("C[C@H](N)C(=O)O", lambda written: [], "auto", kekule=True)
    assert keeps.changes == () and "@" in keeps.smiles  # a vocabulary with '@' tokens keeps the stereo


def test_auto_makes_only_the_changes_needed_while_always_makes_all() -> None:
    needs_stereo_only = lambda written: ["@"] if "@" in written else []  # noqa: E731
    auto = standardize("C[C@H](N)C(=O)[O-].[Na+]", needs_stereo_only, "auto", kekule=True)
    assert auto.changes == (STEREO,) and "." in auto.smiles
    always = standardize("C[C@H](N)C(=O)[O-].[Na+]", needs_stereo_only, "always", kekule=True)
    assert set(always.changes) == {SALT, CHARGE, STEREO} and always.smiles == "CC(N)C(=O)O"


def test_isotopes_are_removed_and_deuterium_becomes_hydrogen() -> None:
    result = standardize("[2H]C([2H])([2H])c1ccccc1", _lacks, "auto", kekule=True)
    assert result.ok and ISOTOPE in result.changes and result.smiles == "Cc1ccccc1"


def test_none_changes_nothing_and_names_the_missing_tokens() -> None:
    result = standardize("C[C@H](N)C(=O)O", _lacks, "none", kekule=True)
    assert not result.ok and result.changes == () and result.missing == ("[C@H]",)


def test_what_cannot_be_expressed_keeps_its_missing_tokens() -> None:
    result = standardize("C[N+](=O)[O-]", _lacks, "auto", kekule=True)  # a nitro group has no neutral form
    assert not result.ok and set(result.missing) == {"[N+]", "[O-]"}


def test_invalid_smiles_is_reported_not_raised() -> None:
    result = standardize("C1CC", _lacks, "auto")
    assert result.smiles is None and not result.ok


def test_a_bad_policy_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="standardize"):
        standardize("CCO", _lacks, "sometimes")


def test_the_summary_counts_each_kind_and_names_missing_tokens() -> None:
    results = [standardize(s, _lacks, "auto", kekule=True) for s in
               ["CCN.Cl", "C[C@H](N)C(=O)O", "C[N+](=O)[O-]", "CCO", "xx"]]
    line = summary(results)
    assert "standardized 2 of 5" in line and "1 salt removed" in line and "1 stereo removed" in line
    assert "1 cannot be expressed" in line and "[N+]" in line and "1 invalid" in line
    assert summary([standardize("CCO", _lacks)]) == ""


# ------------------------------------------------------------------------------------------------ through the API


@pytest.fixture(scope="module")
def bundled():
    from molvae import MolVAE

    return MolVAE.load()


def test_encode_reads_a_drug_salt_with_stereo_under_auto_and_refuses_it_under_none(bundled) -> None:  # noqa: ANN001
    salt = "C[C@@H](CC1=CC=CC=C1)[NH2+]C.[Cl-]"  # methamphetamine hydrochloride, as a salt with its stereocentre
    z = bundled.encode(salt)
    assert z.shape == (1, bundled.latent_dim) and torch.isfinite(z).all()
    assert torch.allclose(z, bundled.encode("CC(Cc1ccccc1)NC"), atol=1e-5)  # the same as the plain molecule
    with pytest.raises(VocabularyError, match=r"\[C@@H\]|\[NH2\+\]"):
        bundled.encode(salt, standardize="none")
    notes = bundled.standardize(salt)[0]
    assert set(notes.changes) == {SALT, CHARGE, STEREO}


def test_encode_file_lists_what_changed_per_row(bundled, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "mine.smi"
    path.write_text("CCO\nCC[NH+](C)C\nC[N+](=O)[O-]\n")
    z, table = bundled.encode_file(path, errors="skip")
    assert list(table.standardized) == ["", CHARGE, ""]
    assert table.missing.iloc[2] != "" and np.isnan(z[2].numpy()).all() and torch.isfinite(z[:2]).all()
    assert "cannot be expressed" in table.attrs["summary"]


def test_optimization_reports_similarity_to_the_molecule_as_given(bundled) -> None:  # noqa: ANN001
    from molvae.chemistry import chem

    start = "CC[NH+]1CCC(c2ccccc2)CC1"
    frame = bundled.optimize("qed", start=[start], method="random", budget=10, n_steps=3, n_points=20, seed=0,
                             similarity=0.0, radius=0.3)
    assert len(frame) and set(frame.standardized) == {CHARGE}
    given = chem.to_mol(start)
    for row in frame.itertuples():
        assert row.start == chem.canonical_smiles(start)
        assert row.similarity == pytest.approx(chem.tanimoto(chem.to_mol(row.smiles), given))
