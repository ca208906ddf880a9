from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molvae.cli import main
from molvae.evaluation.evaluate import evaluate_samples, load_reference

DATA = Path(__file__).parent / "data" / "small.csv"


def test_a_set_against_itself_scores_perfectly_and_the_reference_is_cached(tmp_path: Path) -> None:
    ref = load_reference("Test", DATA, n_jobs=1, fcd=False)
    again = load_reference("Test", DATA, n_jobs=1, fcd=False)  # from the cache
    assert (again.features.fingerprints == ref.features.fingerprints).all()
    assert again.features.fragments == ref.features.fragments
    smiles = [line.split(",")[0] for line in DATA.read_text().splitlines()[1:]]
    result = evaluate_samples(smiles + ["C1CC", ""], [ref], train=set(), n_jobs=1, fcd=False)
    m = result.metrics
    assert m["valid"] == pytest.approx(300 / 302) and m["unique@1000"] == 1.0 and m["Novelty"] == 1.0
    assert m["SNN/Test"] == pytest.approx(1.0) and m["Frag/Test"] == pytest.approx(1.0)
    assert m["Scaf/Test"] == pytest.approx(1.0) and m["logP/Test"] == pytest.approx(0.0)
    assert 0.8 < m["IntDiv"] < 0.9 and m["Filters"] > 0.9


def test_all_invalid_samples_stop_after_validity() -> None:
    result = evaluate_samples(["C1CC", "", "xyz"], [], fcd=False, n_jobs=1)
    assert result.metrics["valid"] == 0.0 and "IntDiv" not in result.metrics and result.features is None


def test_evaluate_command_writes_the_report(tmp_path: Path, overfit_model) -> None:  # noqa: ANN001
    gen = tmp_path / "gen.csv"
    gen.write_text("smiles\n" + "\n".join(overfit_model[1][:40]) + "\nC1CC\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", str(gen), "--reference", f"Ref={DATA}", "--no-fcd", "--n-jobs", "1",
                                       "--model", str(overfit_model[0]), "--n-reconstruct", "20", "--output", str(out),
                                       "--quiet"])
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["valid"] == pytest.approx(40 / 41) and "SNN/Ref" in metrics and "recon_greedy" in metrics
    assert {p.name for p in out.iterdir()} == {"metrics.json", "metrics.md", "histograms.png", "molecules.png"}
    again = CliRunner().invoke(main, ["evaluate", str(gen), "--reference", str(DATA), "--no-fcd", "--output", str(out)])
    assert again.exit_code == 2 and "pass --force" in again.stderr


def test_fcd_of_a_set_with_itself_is_near_zero(tmp_path: Path) -> None:
    pytest.importorskip("fcd_torch")
    ref = load_reference("Test", DATA, n_jobs=1, fcd=True)
    smiles = [line.split(",")[0] for line in DATA.read_text().splitlines()[1:]]
    assert abs(evaluate_samples(smiles, [ref], n_jobs=1).metrics["FCD/Test"]) < 1e-3


def test_streamed_chemnet_statistics_equal_fcd_torch_precalc() -> None:
    fcd_torch = pytest.importorskip("fcd_torch")
    import numpy as np

    from molvae.evaluation.evaluate import chemnet_stats

    smiles = [line.split(",")[0] for line in DATA.read_text().splitlines()[1:]]
    model = fcd_torch.FCD(device="cpu", n_jobs=1)
    theirs, ours = model.precalc(smiles), chemnet_stats(model, smiles, chunk=70)
    assert np.allclose(ours["mu"], theirs["mu"], atol=1e-6) and np.allclose(ours["sigma"], theirs["sigma"], atol=1e-6)
