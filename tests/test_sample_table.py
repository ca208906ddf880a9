from __future__ import annotations

from pathlib import Path

import pytest

from molvae import MolVAE
from molvae.chemistry.scoring import SCORE_COLUMNS


@pytest.fixture(scope="module")
def vae(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    return MolVAE.load(overfit_model[0])


def test_sample_table_reports_novelty_against_the_training_file(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    frame, summary = vae.sample_frame(30, seed=0, temperature=0.0)
    assert list(frame.columns) == [*SCORE_COLUMNS, "novel"]
    training = set(overfit_model[1])
    expected = [bool(v) and c not in training for v, c in zip(frame.valid, frame.canonical_smiles)]
    assert frame.novel.tolist() == expected
    assert 0 <= summary["valid"] <= 1 and summary["molecules_per_s"] > 0


def test_sample_table_without_scores_keeps_validity_canonical_form_and_novelty(vae: MolVAE) -> None:
    scored, _ = vae.sample_frame(40, temperature=1.0, seed=3)
    bare, summary = vae.sample_frame(40, temperature=1.0, seed=3, score=False)
    assert list(bare.columns) == ["smiles", "valid", "canonical_smiles", "novel"]
    for column in bare.columns:
        assert bare[column].tolist() == scored[column].tolist()
    assert summary["valid"] == pytest.approx(bare.valid.mean())


def test_valid_only_and_unique_filter_rows_but_not_the_summary(vae: MolVAE) -> None:
    every, summary = vae.sample_frame(60, temperature=1.5, seed=4, score=False)
    valid, same = vae.sample_frame(60, temperature=1.5, seed=4, score=False, valid_only=True)
    distinct, _ = vae.sample_frame(60, temperature=1.5, seed=4, score=False, unique=True)
    assert valid.smiles.tolist() == every.smiles[every.valid].tolist() and same["valid"] == summary["valid"]
    assert distinct.canonical_smiles.tolist() == list(dict.fromkeys(every.canonical_smiles[every.valid]))
    assert summary["unique"] == pytest.approx(len(distinct) / max(1, len(valid)))
