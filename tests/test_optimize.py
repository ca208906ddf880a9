from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molvae.api import MolVAE
from molvae.chemistry import chem
from molvae.errors import ConfigError, OptimizationError
from molvae.optimization.optimize import improvement_summary


@pytest.fixture(scope="module")
def vae_with_predictor(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    path, _ = overfit_model
    vae = MolVAE.load(path)
    vae.fit_properties(path.parent / "train64.csv", "logP,qed,SAS", epochs=100, val_fraction=0.2)
    return vae


@pytest.fixture(scope="module")
def low_qed(overfit_model: tuple[Path, list[str]]) -> list[str]:
    """The five training molecules of lowest QED."""
    frame = pd.read_csv(overfit_model[0].parent / "train64.csv")
    return frame.sort_values("qed").smiles.head(5).tolist()


def _qed(smiles: str) -> float:
    return chem.qed(chem.to_mol(smiles))


@pytest.mark.parametrize("method", ["gradient", "local", "random", "bo"])
def test_each_method_finds_a_better_molecule_than_its_start_set(vae_with_predictor, low_qed, method) -> None:
    frame = vae_with_predictor.optimize("qed", start=low_qed, method=method, budget=60, n_steps=8, batch=8, seed=0)
    assert len(frame) > 0
    assert frame.score.max() > max(_qed(s) for s in low_qed)
    # scores are the true objective of the returned molecules, best first, within the budget
    assert np.allclose(frame.score, [_qed(s) for s in frame.smiles])
    assert frame.score.is_monotonic_decreasing
    assert frame.attrs["oracle_calls"] <= 60
    assert frame.z.iloc[0].shape == (vae_with_predictor.latent_dim,)


@pytest.mark.parametrize("method", ["random", "bo", "gradient", "local"])
def test_similarity_constraint_holds_for_every_returned_row(vae_with_predictor, low_qed, method) -> None:
    # gradient paths on the tiny model decode many invalid strings: 25 steps find rows on every CPU tried (5 found
    # none on an Intel Xeon whose float sums gave a slightly different overfit model). Near its start the overfit
    # model mostly decodes the start itself, which is never a candidate: radius 0.5 for random and bo
    frame = vae_with_predictor.optimize("qed", start=low_qed, method=method, budget=50, batch=4, similarity=0.4,
                                        n_steps=25 if method == "gradient" else 10, radius=0.5, seed=1)
    assert not (frame.smiles == frame.start).any()
    assert len(frame) > 0
    assert (frame.similarity >= 0.4).all()
    for row in frame.itertuples():
        assert chem.tanimoto(chem.to_mol(row.smiles), chem.to_mol(row.start)) == pytest.approx(row.similarity)
        assert row.sa == pytest.approx(chem.sa_score(chem.to_mol(row.smiles)))  # every row carries its SA score


@pytest.mark.parametrize("method", ["random", "bo", "local"])
def test_the_oracle_is_spent_only_on_molecules_that_meet_the_constraints(vae_with_predictor, low_qed, method) -> None:
    calls: list[str] = []

    def oracle(smiles: str) -> float:
        calls.append(smiles)
        return chem.qed(chem.to_mol(smiles))

    frame = vae_with_predictor.optimize(oracle, start=low_qed, method=method, budget=200, n_steps=10, radius=0.5,
                                        similarity=0.4, batch=4, seed=0)
    starts = {chem.canonical_smiles(s) for s in low_qed}
    mols = [chem.to_mol(s) for s in starts]
    proposed = [c for c in calls if c not in starts]  # the start molecules are scored first, as the reference
    assert proposed, "the search scored no candidate"
    assert all(max(chem.tanimoto(chem.to_mol(c), m) for m in mols) >= 0.4 for c in proposed)
    assert frame.attrs["left_out"]["similarity"] > 0  # candidates were refused without an oracle call


def test_user_callable_is_called_at_most_budget_times_and_never_twice_on_a_molecule(vae_with_predictor, low_qed) -> None:
    calls: list[str] = []

    def oracle(smiles: str) -> float:
        calls.append(smiles)
        return float(len(smiles))

    frame = vae_with_predictor.optimize(oracle, start=low_qed, method="random", budget=12, n_steps=50, seed=0)
    assert 0 < len(calls) <= 12
    assert len(set(calls)) == len(calls)
    assert frame.attrs["oracle_calls"] == len(calls)


def test_a_raising_objective_gives_a_clear_error_and_keeps_the_results_so_far(vae_with_predictor, low_qed) -> None:
    calls: list[str] = []

    def flaky(smiles: str) -> float:
        calls.append(smiles)
        if len(calls) > 8:
            raise ValueError("service down")
        return _qed(smiles)

    with pytest.raises(OptimizationError, match="raised ValueError: service down") as info:
        vae_with_predictor.optimize(flaky, start=low_qed, method="random", budget=100, n_steps=50, seed=0)
    assert isinstance(info.value.results, pd.DataFrame)
    assert len(info.value.results) > 0
    assert set(info.value.results.smiles) <= set(calls)


@pytest.mark.parametrize("bad", [{"objective": "potency"}, {"objective": "qed", "method": "annealing"},
                                 {"objective": "qed", "budget": 0}, {"objective": "similarity"},
                                 {"objective": "qed", "similarity": 1.5}, {"objective": "qed", "start": ["C1CC"]}])
def test_bad_arguments_are_refused_before_any_oracle_call(vae_with_predictor, low_qed, bad) -> None:
    options = {"start": low_qed, "method": "random", **bad}
    objective = options.pop("objective")
    with pytest.raises(ConfigError):
        vae_with_predictor.optimize(objective, **options)


def test_gradient_paths_that_stop_finding_new_molecules_end_before_their_steps(vae_with_predictor, low_qed,  # noqa: ANN001
                                                                               monkeypatch) -> None:  # noqa: ANN001
    from molvae.optimization import optimize as module

    steps: list[int] = []
    check = module.SearchRun.check
    def counted(run, z, owners, step):  # noqa: ANN001, ANN202
        steps.append(step)
        return check(run, z, owners, step)

    monkeypatch.setattr(module.SearchRun, "check", counted)
    found = vae_with_predictor.optimize("qed", start=low_qed[:2], method="gradient", n_steps=2000, budget=100_000,
                                        step_size=1.0, neighbours=0)  # the paths alone (neighbours never run dry)
    assert len(steps) < 2000 and found.attrs["oracle_calls"] < 100_000  # stopped early, budget left
    last_new = found["step"].max() if len(found) else 0
    assert steps[-1] - last_new >= module.STALL_STEPS - 1  # ... only after STALL_STEPS idle steps


def _predicted_qed(vae: MolVAE, smiles: list[str]) -> list[float]:
    column = vae.config.data.property_list.index("qed")
    return vae.model.property_head(vae.encode(smiles))[:, column].tolist()


@pytest.mark.parametrize("similarity", [None, 0.3])
def test_gradient_spends_the_oracle_on_the_best_predicted_candidates_first(vae_with_predictor, low_qed,  # noqa: ANN001
                                                                            monkeypatch, similarity) -> None:  # noqa: ANN001
    from molvae.optimization import optimize as module

    scored: list[tuple[int, str]] = []
    score = module.SearchRun.score
    def recorded(run, candidate):  # noqa: ANN001, ANN202
        scored.append((candidate.owner, candidate.smiles))
        return score(run, candidate)

    monkeypatch.setattr(module.SearchRun, "score", recorded)
    frame = vae_with_predictor.optimize("qed", start=low_qed, method="gradient", n_steps=25, budget=12, radius=0.5,
                                        similarity=similarity, seed=0)  # 6 steps ran out of candidates on an Intel Xeon
    assert frame.attrs["oracle_calls"] == 12 and len(scored) > 1
    with __import__("torch").no_grad():
        predicted = _predicted_qed(vae_with_predictor, [s for _, s in scored])
    # one queue for all starts without a constraint; with one, each start's own queue, taken in turn
    queues = [range(len(scored))] if similarity is None else [
        [i for i, (owner, _) in enumerate(scored) if owner == o] for o in {owner for owner, _ in scored}]
    for queue in queues:
        values = [predicted[i] for i in queue]
        assert values == sorted(values, reverse=True)


def test_a_gradient_step_that_decodes_to_nothing_is_taken_back_with_half_the_step(vae_with_predictor, low_qed,  # noqa: ANN001
                                                                                 monkeypatch) -> None:  # noqa: ANN001
    from molvae.optimization import optimize as module

    paths: list = []
    check = module.SearchRun.check
    def refuse_paths(run, z, owners, step):  # noqa: ANN001, ANN202
        n = len(run.starts)
        paths.append(z[:n].clone())
        out = check(run, z, owners, step)
        return [None] * n + out[n:]  # every path point is refused: the paths must never leave their start

    monkeypatch.setattr(module.SearchRun, "check", refuse_paths)
    vae_with_predictor.optimize("qed", start=low_qed, method="gradient", n_steps=5, budget=1000, step_size=0.5)
    start = vae_with_predictor.encode(low_qed)
    assert len(paths) == 6
    for step, z in enumerate(paths[1:], start=1):  # each tried point lies 0.5 / 2^(step-1) from the start
        assert np.allclose((z - start).norm(dim=1).numpy(), 0.5 / 2 ** (step - 1), rtol=1e-4)


def test_gradient_needs_a_predictor_of_the_objective(overfit_model, low_qed) -> None:
    plain = MolVAE.load(overfit_model[0])
    with pytest.raises(ConfigError, match="property predictor"):
        plain.optimize("qed", start=low_qed, method="gradient")


def test_improvement_summary_counts_successes_per_start() -> None:
    frame = pd.DataFrame({"start": ["CCO", "CCO", "CCN"], "start_score": [0.1, 0.1, 0.5],
                          "score": [0.3, 0.2, 0.4], "similarity": [0.5, 0.6, 0.7]})
    summary = improvement_summary(frame, ["CCO", "CCN"])
    assert summary["success"] == 0.5
    assert summary["mean_improvement"] == pytest.approx(0.2)
    assert summary["mean_similarity"] == pytest.approx(0.5)


def test_cli_optimize_writes_rows_and_z_and_loads_a_user_objective(overfit_model, low_qed, tmp_path) -> None:
    start = tmp_path / "start.csv"
    start.write_text("smiles\n" + "\n".join(low_qed) + "\n")
    objective = tmp_path / "my_objective.py"
    objective.write_text("def heavy(smiles):\n    return len(smiles)\n")
    out = tmp_path / "found.csv"
    cmd = [sys.executable, "-m", "molvae", "optimize", "--model", str(overfit_model[0]), "--objective",
           f"{objective}:heavy", "--start", str(start), "--method", "random", "--budget", "15", "--output", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns[:4]) == ["start", "start_score", "smiles", "score"]
    assert (frame.score == frame.smiles.str.len()).all()
    assert np.load(tmp_path / "found.z.npy").shape == (len(frame), 32)
    bad = subprocess.run(cmd[:-2] + ["--objective", "nope", "--output", str(tmp_path / "x.csv")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "objective = 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_log_expected_improvement_matches_the_closed_form_and_stays_finite_far_below_the_best() -> None:
    import torch
    from scipy.stats import norm

    from molvae.optimization.bayes_opt import log_expected_improvement

    mean = torch.tensor([0.0, 1.0, 2.5, -1.0], dtype=torch.float64)
    sd = torch.tensor([1.0, 0.5, 2.0, 0.3], dtype=torch.float64)
    u = (mean.numpy() - 1.0) / sd.numpy()
    exact = np.log(sd.numpy() * (u * norm.cdf(u) + norm.pdf(u)))
    assert np.allclose(log_expected_improvement(mean, sd, 1.0).numpy(), exact, atol=1e-9)
    far = log_expected_improvement(torch.tensor([-30.0, -40.0], dtype=torch.float64),
                                    torch.ones(2, dtype=torch.float64), 0.0)
    assert torch.isfinite(far).all() and far[0] > far[1]  # still ranks points where EI underflows to 0


def test_bo_prior_mean_is_the_predictors_estimate_of_the_objective_in_its_units(vae_with_predictor) -> None:
    import torch

    from molvae.optimization.optimize import _estimate

    z = torch.randn(6, vae_with_predictor.latent_dim, generator=torch.Generator().manual_seed(0))
    values = vae_with_predictor.model.property_head.predict(z).double()
    names = vae_with_predictor.config.data.property_list
    logp, qed, sa = (values[:, names.index(n)] for n in ("logP", "qed", "SAS"))
    assert torch.allclose(_estimate(vae_with_predictor, "qed")(z), qed)
    expected = torch.tensor([chem.combine_penalized_logp(float(a), float(b), 0) for a, b in zip(logp, sa)],
                            dtype=torch.float64)
    assert torch.allclose(_estimate(vae_with_predictor, "penalized_logp")(z), expected)
    assert _estimate(vae_with_predictor, "similarity") is None  # no predictor of it: a constant prior mean


def test_usable_rate_follows_where_decoded_points_met_the_constraints() -> None:
    import torch

    from molvae.optimization.bayes_opt import usable_rate

    tried = [(1.0, True)] * 20 + [(3.0, False)] * 20
    rate = usable_rate(tried, torch.tensor([1.0, 3.0, 10.0]), radius=1.0)
    assert rate[0] > 0.9 and rate[1] < 0.1
    assert rate[2] == pytest.approx(0.5)  # nothing seen near: the prior half


def test_bo_refits_its_gp_only_after_a_round_that_scored_a_new_molecule(vae_with_predictor, low_qed,  # noqa: ANN001
                                                                         monkeypatch) -> None:
    import botorch.fit

    from molvae.optimization.search_run import SearchRun

    fits, rounds = [], []
    real_fit, real_check = botorch.fit.fit_gpytorch_mll, SearchRun.check
    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    monkeypatch.setattr(SearchRun, "check", lambda self, *a, **k: rounds.append(1) or real_check(self, *a, **k))
    frame = vae_with_predictor.optimize("qed", start=low_qed[:1], method="bo", similarity=0.6, budget=12, n_steps=40,
                                        batch=1, seed=0)
    assert frame.attrs["oracle_calls"] <= 12
    # a fit per round before (40 rounds here, most of them refused by the similarity constraint); now a fit per round
    # that scored something, and while only the start's score is known (its scale comes from the pool then)
    assert len(fits) < len(rounds) / 2


def test_one_point_posteriors_equal_the_marginals_of_the_joint_posterior() -> None:
    """bo ranks its pool by N one-point posteriors (N, 1, D) instead of one joint posterior with an N x N covariance."""
    import torch
    from botorch.models import SingleTaskGP

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(30, 8, generator=generator, dtype=torch.float64)
    model = SingleTaskGP(x, torch.randn(30, 1, generator=generator, dtype=torch.float64)).eval()
    pool = torch.rand(200, 8, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        joint, single = model.posterior(pool), model.posterior(pool.unsqueeze(1))
        assert torch.allclose(joint.mean.reshape(-1), single.mean.reshape(-1), atol=1e-10)
        assert torch.allclose(joint.variance.reshape(-1), single.variance.reshape(-1), atol=1e-10)


def test_bo_under_a_similarity_constraint_gives_each_start_its_share_of_the_budget(vae_with_predictor,  # noqa: ANN001
                                                                                  low_qed) -> None:  # noqa: ANN001
    frame = vae_with_predictor.optimize("qed", start=low_qed, method="bo", similarity=0.3, budget=25, n_steps=30,
                                        batch=2, seed=0)
    assert frame.attrs["oracle_calls"] <= 25
    share = (25 - len(low_qed)) // len(low_qed)  # the starts' own scores first, then an equal share each
    assert frame.groupby("start").size().max() <= share
    assert frame.start.nunique() > 1  # the searches ran side by side, not one start spending it all


def test_bad_per_start_or_fingerprint_is_a_config_error_before_any_call(vae_with_predictor, low_qed) -> None:
    calls: list[str] = []
    for options in ({"per_start": 0}, {"per_start": 2.5}, {"fingerprint": "ecfp6"}, {"per_start": 2, "start": None}):
        arguments = {"start": low_qed, **options}
        with pytest.raises(ConfigError):
            vae_with_predictor.optimize(lambda s: calls.append(s) or 0.0, method="random", budget=10, **arguments)
    assert calls == []


def test_random_search_does_not_decode_for_a_start_whose_calls_are_spent() -> None:
    import torch

    from molvae.optimization.optimize import _random

    class Run:  # start 0 has had its per-start calls
        def __init__(self) -> None:
            self.evaluated: list[tuple[torch.Tensor, list[int]]] = []

        def full(self, owner: int) -> bool:
            return owner == 0

        def all_full(self) -> bool:
            return False

        def evaluate(self, z: torch.Tensor, owners: list[int], step: int) -> None:
            self.evaluated.append((z, owners))

    run = Run()
    _random(run, torch.zeros(3, 4), [0, 1, 2], n_steps=2, radius=0.5, n_points=3,
            generator=torch.Generator().manual_seed(0))
    same = torch.Generator().manual_seed(0)
    draws = [0.5 * torch.randn((3, 4), generator=same) for _ in range(2)]  # the stream a search without it draws
    assert [owners for _, owners in run.evaluated] == [[1, 2], [1, 2]]
    assert all(torch.equal(z, d[1:]) for (z, _), d in zip(run.evaluated, draws))
