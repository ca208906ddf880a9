from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from molvae.api import MolVAE
from molvae.cli import main
from molvae.errors import CheckpointError, ConfigError
from molvae.model.prior import MixturePrior, build_mixture, exemplar_mixture, fit_mixture


def two_clusters(n: int = 4000) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, 6, generator=generator) * 0.3 + 2.0
    b = torch.randn(n, 6, generator=generator) * 0.3 - 2.0
    return torch.cat([a, b])


def test_mixture_finds_two_clusters_and_widens_them_by_the_posterior_variance() -> None:
    mu = two_clusters()
    prior = fit_mixture(mu, torch.full_like(mu, 0.05), n_components=2, iterations=20)
    order = prior.means[:, 0].argsort()
    assert torch.allclose(prior.weights, torch.tensor([0.5, 0.5]), atol=0.01)
    assert torch.allclose(prior.means[order], torch.tensor([[-2.0] * 6, [2.0] * 6]), atol=0.05)
    assert torch.allclose(prior.variances, torch.full((2, 6), 0.09 + 0.05), atol=0.02)


def test_mixture_samples_come_from_where_the_codes_are_and_are_seeded() -> None:
    mu = two_clusters()
    prior = fit_mixture(mu, torch.full_like(mu, 0.01), n_components=8)
    z = prior.sample(2000, torch.Generator().manual_seed(1))
    assert z.shape == (2000, 6)
    assert torch.equal(z, prior.sample(2000, torch.Generator().manual_seed(1)))
    assert (z.abs().mean(dim=1) > 1.0).float().mean() > 0.99  # near +-2, not near 0 where N(0, I) would put them
    assert prior.log_prob(torch.full((1, 6), 2.0)) > prior.log_prob(torch.zeros(1, 6)) + 10


def test_mixture_round_trips_through_checkpoint_tensors() -> None:
    mu = two_clusters(200)
    prior = fit_mixture(mu, torch.full_like(mu, 0.01), n_components=4, iterations=5)
    back = MixturePrior.from_tensors(prior.tensors())
    assert back is not None and all(torch.equal(getattr(back, k), getattr(prior, k))
                                    for k in ("weights", "means", "variances"))
    assert MixturePrior.from_tensors({}) is None


def test_exemplar_mixture_is_the_posteriors_of_a_seeded_subset_widened() -> None:
    mu = two_clusters(500)
    variance = torch.rand(mu.shape, generator=torch.Generator().manual_seed(2)) * 0.1 + 0.01
    prior = exemplar_mixture(mu, variance, n_components=100, widen=1.5, seed=4)
    assert prior.n_components == 100 and torch.allclose(prior.weights, torch.full((100,), 0.01))
    rows = [int((mu == m).all(dim=1).nonzero()) for m in prior.means]  # every component is one molecule's posterior
    assert len(set(rows)) == 100
    assert torch.allclose(prior.variances, variance[rows] * 2.25)
    assert torch.equal(prior.means, exemplar_mixture(mu, variance, 100, 1.5, seed=4).means)
    assert not torch.equal(prior.means, exemplar_mixture(mu, variance, 100, 1.5, seed=5).means)
    assert exemplar_mixture(mu, variance, n_components=10**6).n_components == len(mu)  # at most one per molecule


def test_build_mixture_widens_em_components_by_the_same_factor() -> None:
    mu = two_clusters(500)
    plain = build_mixture(mu, torch.full_like(mu, 0.05), "em", n_components=2)
    wide = build_mixture(mu, torch.full_like(mu, 0.05), "em", n_components=2, widen=2.0)
    assert torch.allclose(wide.variances, plain.variances * 4) and torch.equal(wide.means, plain.means)


def test_fit_prior_makes_the_mixture_the_models_sampling_source(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    path, molecules = overfit_model
    vae = MolVAE.load(path)
    before = vae.sample(50, temperature=0.0, seed=3)
    assert vae.sample_source == "prior"
    with pytest.raises(CheckpointError, match="fit_prior"):
        vae.sample(5, source="mixture", seed=0)
    fit = vae.fit_prior(Path(vae.checkpoint.train_state["data"]["path"]), n_components=8, method="em")
    assert fit["n_molecules"] == 64 and fit["n_components"] == 8
    saved = MolVAE.load(vae.save(tmp_path / "with_prior.safetensors"))
    assert saved.sample_source == "mixture"
    drawn = saved.sample(200, temperature=0.0, seed=3)
    assert drawn == saved.sample(200, temperature=0.0, seed=3)  # seeded
    assert saved.sample(50, temperature=0.0, seed=3, source="prior") == before  # N(0, I) samples unchanged
    known = set(molecules)
    # greedy decodes of mixture draws land on the training molecules far more often than N(0, I) draws do
    from_prior = saved.sample(200, temperature=0.0, seed=3, source="prior", valid_only=True)
    assert sum(s in known for s in drawn if s) > sum(s in known for s in from_prior)


def test_fit_prior_command_writes_a_model_that_samples_from_it(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    path, _ = overfit_model
    data = MolVAE.load(path).checkpoint.train_state["data"]["path"]
    out = tmp_path / "prior.safetensors"
    result = CliRunner().invoke(main, ["fit-prior", data, "--model", str(path), "--output", str(out),
                                       "--method", "em", "--components", "4"])
    assert result.exit_code == 0, result.output
    assert "4 Gaussians" in result.output
    info = CliRunner().invoke(main, ["info", str(out)])
    assert "z drawn from mixture" in info.output
    sampled = CliRunner().invoke(main, ["sample", "--model", str(out), "--n", "20", "--seed", "1", "--no-score"])
    assert sampled.exit_code == 0, sampled.output
    again = CliRunner().invoke(main, ["sample", "--model", str(out), "--n", "20", "--seed", "1", "--no-score",
                                      "--source", "prior"])
    assert again.exit_code == 0 and again.output != sampled.output


def test_exemplar_prior_from_the_api_and_the_command(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    path, molecules = overfit_model
    vae = MolVAE.load(path)
    data = Path(vae.checkpoint.train_state["data"]["path"])
    with pytest.raises(ConfigError, match="method"):
        vae.fit_prior(data, method="kde")
    with pytest.raises(ConfigError, match="widen"):
        vae.fit_prior(data, method="exemplar", widen=0.0)
    fit = vae.fit_prior(data, method="exemplar")
    assert fit["method"] == "exemplar" and fit["n_components"] == 64 == fit["n_molecules"]  # default 10,000, capped
    out = tmp_path / "exemplar.safetensors"
    result = CliRunner().invoke(main, ["fit-prior", str(data), "--model", str(path), "--output", str(out),
                                       "--method", "exemplar", "--components", "16", "--widen", "1.2"])
    assert result.exit_code == 0, result.output
    assert "16 Gaussians (exemplar, widen 1.2)" in result.output
    info = CliRunner().invoke(main, ["info", str(out)])
    assert "16 Gaussians, the posteriors of 16 molecules" in info.output and "widened 1.2x" in info.output
    drawn = MolVAE.load(out).sample(100, temperature=0.0, seed=1, valid_only=True)
    assert sum(s in set(molecules) for s in drawn) > len(drawn) / 2  # near the exemplars: mostly training molecules


def test_flow_prior_learns_a_curved_density_samples_it_seeded_and_round_trips() -> None:
    from molvae.model.flow import FlowPrior, FlowSpec
    from molvae.training.flow_fit import FlowFit, fit_flow

    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(6000, 4, generator=generator)
    mu[:, 1] = 0.5 * mu[:, 0] ** 2 + 0.1 * mu[:, 1]  # a parabola: no Gaussian fits it, a flow does
    variance = torch.full_like(mu, 1e-3)
    flow, report = fit_flow(mu, variance, FlowSpec(4, n_transforms=4, hidden=32), FlowFit(epochs=6, batch_size=256),
                            progress=False)
    assert report.n_val == 300 and len(report.val_nll) == 6 and report.val_nll[-1] < report.val_nll[0]
    on_curve, off_curve = torch.tensor([[1.0, 0.5, 0.0, 0.0]]), torch.tensor([[1.0, -1.5, 0.0, 0.0]])
    assert flow.log_prob(on_curve) > flow.log_prob(off_curve) + 5
    z = flow.sample(3000, torch.Generator().manual_seed(1))
    assert torch.equal(z, flow.sample(3000, torch.Generator().manual_seed(1)))
    residual = (z[:, 1] - 0.5 * z[:, 0] ** 2).abs()
    assert residual.median() < 0.3  # the draws follow the curve
    wide = flow.sample(3000, torch.Generator().manual_seed(1), widen=1.5)
    assert wide[:, 0].std() > z[:, 0].std() * 1.2
    back = FlowPrior.from_checkpoint(flow.tensors(), {"flow": flow.spec.to_dict()})
    assert back is not None and torch.allclose(back.log_prob(mu[:50]), flow.log_prob(mu[:50]), atol=1e-4)
    assert FlowPrior.from_checkpoint({}, {}) is None


def test_flow_prior_from_the_api_and_the_command(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    path, molecules = overfit_model
    vae = MolVAE.load(path)
    data = Path(vae.checkpoint.train_state["data"]["path"])
    with pytest.raises(CheckpointError, match="flow"):
        vae.sample(5, source="flow", seed=0)
    with pytest.raises(ConfigError, match="epochs"):
        vae.fit_prior(data, epochs=0)
    fit = vae.fit_prior(data, epochs=3)
    assert fit["method"] == "flow" and fit["n_molecules"] == 64 and len(fit["val_nll"]) == 3
    assert vae.sample_source == "flow"
    saved = MolVAE.load(vae.save(tmp_path / "flow.safetensors"))
    assert saved.sample_source == "flow"
    drawn = saved.sample(100, temperature=0.0, seed=2)
    assert drawn == saved.sample(100, temperature=0.0, seed=2) == vae.sample(100, temperature=0.0, seed=2)
    out = tmp_path / "flow_cli.safetensors"
    result = CliRunner().invoke(main, ["fit-prior", str(data), "--model", str(path), "--output", str(out),
                                       "--epochs", "2", "--widen", "1.1"])
    assert result.exit_code == 0, result.output
    assert "spline flow" in result.output and "(flow, widen 1.1)" in result.output
    info = CliRunner().invoke(main, ["info", str(out)])
    assert "z drawn from flow: a spline flow, fitted to the codes of 64 molecules" in info.output
    sampled = CliRunner().invoke(main, ["sample", "--model", str(out), "--n", "20", "--seed", "1", "--no-score",
                                        "--source", "flow"])
    assert sampled.exit_code == 0, sampled.output


def test_a_stored_flow_replaces_an_earlier_flow_of_another_shape() -> None:
    from molvae.model.flow import FlowPrior, FlowSpec

    extra, tensors = {}, {"other": torch.zeros(1)}
    FlowPrior(FlowSpec(4, n_transforms=4, hidden=16)).store(extra, tensors)
    FlowPrior(FlowSpec(4, n_transforms=2, hidden=8)).store(extra, tensors)
    loaded = FlowPrior.from_checkpoint(tensors, extra)
    assert loaded is not None and loaded.spec.n_transforms == 2 and "other" in tensors


def test_bundling_keeps_the_prior_it_samples_from_and_every_training_file(overfit_model, small_csv: Path) -> None:  # noqa: ANN001
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle_model", Path(__file__).resolve().parent.parent / "scripts"
                                                  / "bundle_model.py")
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    path, _ = overfit_model
    vae = MolVAE.load(path)
    data = Path(vae.checkpoint.train_state["data"]["path"])
    vae.fit_prior(data, epochs=1)
    vae.fit_prior(data, method="exemplar", widen=1.2)  # samples from the exemplar mixture now; the flow is unused
    assert any(k.startswith("flow_") for k in vae.checkpoint.extra_tensors)
    assert bundle.drop_unused_prior(vae.checkpoint) == "flow"
    assert not any(k.startswith("flow_") for k in vae.checkpoint.extra_tensors) and "flow" not in vae.checkpoint.extra
    assert vae.sample_source == "mixture" and len(vae.sample(10, seed=0)) == 10
    assert bundle.drop_unused_prior(vae.checkpoint) is None  # nothing left to drop
    own = vae.store_training_set()
    both = bundle.add_training_files(vae, [small_csv])
    assert own == 64 and both > own  # small.csv's other molecules count as seen too
    assert torch.equal(vae.checkpoint.extra_tensors["training_hashes"].sort().values,
                       vae.checkpoint.extra_tensors["training_hashes"])  # still sorted for the lookup
