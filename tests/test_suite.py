"""The ZINC-250k benchmark protocols (molvae.optimization.suite): per-molecule rows, budgets, counting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from molvae.api import MolVAE
from molvae.chemistry import chem
from molvae.errors import DataError
from molvae.optimization.suite import Protocol, read_benchmark, rescore, run_protocol, success, summarize

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def vae(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    model = MolVAE.load(overfit_model[0])
    model.fit_properties(overfit_model[0].parent / "train64.csv", "logP,qed,SAS", epochs=100, val_fraction=0.2)
    return model


def test_read_benchmark_takes_the_first_field_exactly_as_written(tmp_path: Path) -> None:
    starts = read_benchmark(ROOT / "data" / "benchmarks" / "zinc250k_plogp_test800.txt")
    assert len(starts) == 800 and starts[1] == "C[C@@H]1CC[C@@H](C(N)=O)CN1C(=O)c1nnn[n-]1"
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="no molecules"):
        read_benchmark(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="cannot read"):
        read_benchmark(tmp_path / "missing.txt")


def test_success_counts_improvement_for_plogp_and_the_threshold_for_qed() -> None:
    assert success("plogp", -1.0, -0.5) and not success("plogp", -1.0, -1.0) and not success("plogp", -1.0, None)
    assert success("qed", 0.5, 0.9) and not success("qed", 0.5, 0.89)


def test_summarize_counts_failures_as_zero_over_all_and_skips_them_over_successes() -> None:
    rows = [{"score": 3.0, "start_score": 1.0, "success": True, "similarity": 0.5, "readable": True},
            {"score": None, "start_score": 1.0, "success": False, "similarity": None, "readable": True},
            {"score": 0.5, "start_score": 1.0, "success": False, "similarity": 0.7, "readable": False},
            {"score": 5.0, "start_score": 1.0, "success": True, "similarity": 0.3, "readable": True}]
    summary = summarize(rows)
    assert summary["success"] == 0.5 and summary["unreadable"] == 1
    assert summary["improvement_successes"] == [3.0, 1.0]  # gains 2 and 4
    assert summary["improvement_all"][0] == pytest.approx(1.5)  # (2 + 0 + 0 + 4) / 4
    assert summary["mean_similarity"] == pytest.approx(0.4)


@pytest.mark.parametrize("method", ["gradient", "random"])
def test_run_protocol_gives_one_checkable_row_per_start_within_the_budget(vae, overfit_model, method) -> None:
    _, molecules = overfit_model
    starts = molecules[:4] + ["C[Se]C"]  # selenium: a start the tiny model cannot read, even standardized
    protocol = Protocol("qed", 0.2, method=method, per_start=3, n_points=16)
    rows = run_protocol(vae, starts, protocol, seed=0)
    assert [r["start"] for r in rows] == starts  # in order, exactly as given
    for row in rows:
        if row["smiles"] is None:
            assert not row["success"]
            continue
        again = rescore(row)  # the reported figures re-scored with RDKit alone
        assert again["score"] == pytest.approx(row["score"]) and again["similarity"] == pytest.approx(row["similarity"])
        assert row["similarity"] >= 0.2 and chem.canonical_smiles(row["smiles"]) != chem.canonical_smiles(row["start"])
        assert row["success"] == (row["score"] >= 0.9)
    assert [r["readable"] for r in rows] == [True] * 4 + [False]
    assert rows[-1]["smiles"] is None and not rows[-1]["success"]


def test_run_protocol_spends_at_most_per_start_oracle_calls(vae, overfit_model, monkeypatch) -> None:
    _, molecules = overfit_model
    seen: list[dict] = []
    real = vae.optimize

    def spy(*args, **kwargs):
        frame = real(*args, **kwargs)
        seen.append({"calls": frame.attrs["oracle_calls"], "kwargs": kwargs, "per": frame.groupby("start").size()})
        return frame

    monkeypatch.setattr(vae, "optimize", spy)
    run_protocol(vae, molecules[:5], Protocol("plogp", 0.0, method="random", per_start=2, n_points=30), seed=1)
    (record,) = seen
    assert record["kwargs"]["per_start"] == 2 and record["calls"] <= 5 * 3  # 5 start scores + 2 each
    assert (record["per"] <= 2).all()


def _rows(task: str, gains: list[float]) -> list[dict]:
    return [{"task": task, "start": f"C{'C' * i}", "start_score": 0.0, "score": g if task == "plogp" else (0.95 if g else 0.5),
             "success": bool(g) if task == "qed" else g > 0} for i, g in enumerate(gains)]


def test_paired_test_wilcoxon_matches_the_textbook_statistic_and_direction() -> None:
    from molvae.optimization.suite import _wilcoxon_greater, paired_test

    # differences 1..10 all positive: W+ = 55 = n(n+1)/2, the most extreme; z = (55 - 27.5 - 0.5) / sqrt(96.25)
    assert _wilcoxon_greater(np.arange(1.0, 11.0)) == pytest.approx(0.5 * math.erfc(27 / math.sqrt(96.25) / math.sqrt(2)))
    assert _wilcoxon_greater(-np.arange(1.0, 11.0)) > 0.99
    assert _wilcoxon_greater(np.zeros(5)) == 1.0
    better = paired_test(_rows("plogp", [2.0] * 30), _rows("plogp", [1.0] * 15 + [0.0] * 15))
    assert better["wins"] == 30 and better["losses"] == 0 and better["p"] < 1e-5
    assert better["mean_difference"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="same start"):
        paired_test(_rows("plogp", [1.0]), _rows("plogp", [1.0, 2.0]))


def test_paired_test_on_qed_is_mcnemars_exact_test_on_the_discordant_pairs() -> None:
    from molvae.optimization.suite import paired_test

    ours = _rows("qed", [1] * 8 + [0] * 2)
    theirs = _rows("qed", [0] * 6 + [1] * 4)  # discordant: 6 wins (rows 0-5), 2 losses (rows 8-9)
    result = paired_test(ours, theirs)
    assert (result["wins"], result["losses"]) == (6, 2)
    assert result["p"] == pytest.approx(sum(math.comb(8, k) for k in range(6, 9)) / 2**8)
    assert result["mean_difference"] == pytest.approx(0.4)
