from __future__ import annotations

from pathlib import Path

import pytest
import torch

from molvae.api import MolVAE
from molvae.chemistry import chem
from molvae.errors import ConfigError
from molvae.optimization.inversion import invert
from molvae.optimization.local_search import _ridge_ranker, draws_around, uphill_directions


@pytest.fixture(scope="module")
def vae(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    return MolVAE.load(overfit_model[0])


def _ids(vae: MolVAE, smiles: list[str]) -> torch.Tensor:
    return vae.vocab.pad([vae.vocab.token_ids(vae.written(chem.canonical_smiles(s))) for s in smiles])[0]


def test_inversion_finds_codes_that_decode_back_from_codes_that_did_not(vae, overfit_model) -> None:  # noqa: ANN001
    molecules = overfit_model[1][:16]
    ids = _ids(vae, molecules)
    z0 = vae.encode(molecules) + 0.8 * torch.randn(16, vae.latent_dim, generator=torch.Generator().manual_seed(0))
    before = sum(d == chem.canonical_smiles(m) for d, m in zip(vae.decode(z0), molecules))
    weights = {k: v.clone() for k, v in vae.model.state_dict().items()}
    result = invert(vae.model, ids, z0, vae.vocab.pad_id)
    decoded = vae.decode(result.z)
    back = [d == chem.canonical_smiles(m) for d, m in zip(decoded, molecules)]
    assert sum(back) > before
    assert back == result.exact.tolist()  # 'exact' is greedy decoding's answer, computed without decoding
    assert all(torch.equal(weights[k], v) for k, v in vae.model.state_dict().items())  # the network is untouched
    assert (result.steps <= 60).all()


def test_inversion_leaves_a_code_that_already_decodes_back_nearly_where_it_was(vae, overfit_model) -> None:  # noqa: ANN001
    molecules = overfit_model[1][:8]
    z0 = vae.encode(molecules)
    exact = [d == chem.canonical_smiles(m) for d, m in zip(vae.decode(z0), molecules)]
    result = invert(vae.model, _ids(vae, molecules), z0, vae.vocab.pad_id, margin_steps=0)
    for i, was_exact in enumerate(exact):
        if was_exact:
            assert torch.equal(result.z[i], z0[i]) and result.steps[i] == 0


def test_draws_cover_every_centre_at_every_radius() -> None:
    centres = [torch.zeros(4), torch.full((4,), 10.0)]
    z = draws_around(centres, 100, torch.Generator().manual_seed(0))
    assert z.shape == (100, 4)
    near = (z.norm(dim=1) < 5).sum()
    assert near == 50  # half the points around each centre
    spread = (z[z.norm(dim=1) < 5]).norm(dim=1)
    assert spread.min() < 0.3 and spread.max() > 0.8  # small and large radii both drawn


def test_uphill_directions_follow_the_estimate_gradient() -> None:
    weights = torch.tensor([3.0, -4.0, 0.0, 0.0])
    centres = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    directions = uphill_directions(lambda z: (z * weights).sum(dim=1) + z[:, 2] ** 2, centres)
    for centre, direction in zip(centres, directions):
        expected = weights + torch.tensor([0.0, 0.0, 2 * float(centre[2]), 0.0])  # the gradient at the centre
        assert torch.allclose(direction, expected / expected.norm(), atol=1e-3)


def test_half_the_draws_step_uphill() -> None:
    uphill = [torch.tensor([1.0, 0.0, 0.0, 0.0])]
    z = draws_around([torch.zeros(4)], 2000, torch.Generator().manual_seed(0), uphill=uphill)
    plain = draws_around([torch.zeros(4)], 2000, torch.Generator().manual_seed(0))
    assert z[0::2, 0].mean().abs() < 0.05  # the even draws are isotropic, as without a direction
    assert z[1::2, 0].mean() > 0.1 and (z[1::2, 0] > 0).float().mean() > 0.8
    assert torch.allclose(z[0::2], plain[0::2])  # the same random draws underneath
    assert torch.allclose(z[:, 1:], plain[:, 1:])  # nothing moves across the direction


def test_ridge_ranker_orders_codes_by_a_linear_trend_it_learned() -> None:
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(30, 5, generator=generator)
    scored = [(row, float(row[0] * 2 - row[1])) for row in z]
    ranker = _ridge_ranker(scored)
    assert ranker is not None and _ridge_ranker(scored[:2]) is None
    test = torch.randn(50, 5, generator=generator)
    truth = test[:, 0] * 2 - test[:, 1]
    assert torch.corrcoef(torch.stack([ranker(test), truth]))[0, 1] > 0.95


def test_local_search_counts_decoded_points_and_inverted_starts(vae, overfit_model) -> None:  # noqa: ANN001
    starts = overfit_model[1][:4]
    frame = vae.optimize("qed", start=starts, method="local", budget=44, per_start=10, n_points=80, similarity=0.3,
                         seed=0)
    assert frame.attrs["decoded"] == 4 * 80
    assert 0 <= frame.attrs["inverted"] <= 4
    assert frame.attrs["oracle_calls"] <= 44
    assert (frame.groupby("start").size() <= 10).all()


def test_design_without_starts_spends_the_budget_learns_and_never_scores_a_molecule_twice(vae) -> None:  # noqa: ANN001
    calls: list[str] = []

    def oracle(smiles: str) -> float:
        calls.append(smiles)
        return chem.qed(chem.to_mol(smiles))

    frame = vae.optimize(oracle, method="local", budget=60, batch=10, n_points=80, seed=0)
    assert len(calls) == len(set(calls)) == frame.attrs["oracle_calls"] <= 60
    assert frame.score.is_monotonic_decreasing and len(frame) > 0
    assert frame.attrs["decoded"] >= 80


def test_design_runs_without_restarts(vae, monkeypatch) -> None:  # noqa: ANN001
    from molvae.optimization import design

    monkeypatch.setattr(design, "FRESH_SHARE", 0.0)  # rounds draw around the best codes only (an ablation)
    drawn: list[int] = []
    real = vae.draw_z
    monkeypatch.setattr(vae, "draw_z", lambda n, *a, **k: drawn.append(n) or real(n, *a, **k))
    frame = vae.optimize("qed", method="local", budget=40, batch=10, n_points=80, seed=0)
    assert 0 < frame.attrs["oracle_calls"] <= 40
    assert len(drawn) == 1  # the first design only


def test_tanimoto_gp_interpolates_what_it_saw_and_is_unsure_far_away() -> None:
    from molvae.optimization.surrogate import TanimotoGP, expected_improvement

    smiles = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1O", "CC(=O)O"]
    fps = [chem.morgan_fingerprint(chem.to_mol(s)) for s in smiles]
    y = [1.0, 2.0, 3.0, -1.0, -0.5, 0.0]
    gp = TanimotoGP().fit(fps, y)
    mean, sd = gp.predict(fps)
    assert abs(mean - y).max() < 0.5 and (sd < 1.0).all()
    far = [chem.morgan_fingerprint(chem.to_mol("FC(F)(F)C(F)(F)F"))]
    far_mean, far_sd = gp.predict(far)
    assert far_sd[0] > sd.max() and abs(far_mean[0] - sum(y) / len(y)) < 0.5  # back to the prior mean
    ei = expected_improvement(mean, sd, max(y))
    assert (ei >= 0).all() and ei[2] == ei.max()


def test_a_journaled_search_stopped_by_ctrl_c_resumes_to_the_uninterrupted_result(vae, tmp_path) -> None:  # noqa: ANN001
    calls: list[str] = []

    def oracle(smiles: str) -> float:
        calls.append(smiles)
        if stop_at and len(calls) == stop_at:
            raise KeyboardInterrupt
        return chem.qed(chem.to_mol(smiles))

    stop_at = 0
    straight = vae.optimize(oracle, method="local", budget=40, batch=8, n_points=60, seed=3)
    assert not straight.attrs["interrupted"]
    calls.clear()
    stop_at = 15
    journal = tmp_path / "search.jsonl"
    first = vae.optimize(oracle, method="local", budget=40, batch=8, n_points=60, seed=3, journal=journal)
    assert first.attrs["interrupted"] and len(first) == 14  # the 15th call was stopped, nothing lost before it
    stop_at, before = 0, len(calls)
    resumed = vae.optimize(oracle, method="local", budget=40, batch=8, n_points=60, seed=3, journal=journal)
    assert len(calls) - before == 40 - 14  # only the calls not yet paid for
    assert resumed[["smiles", "score", "oracle_calls"]].equals(straight[["smiles", "score", "oracle_calls"]])
    with pytest.raises(ConfigError, match="belongs to another search"):
        vae.optimize(oracle, method="local", budget=40, batch=8, n_points=60, seed=4, journal=journal)
