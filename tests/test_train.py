from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.config import Config, TrainConfig, load_config
from molvae.errors import ConfigError, TrainingError
from molvae.model.checkpoint import load_checkpoint
from molvae.model.sampling import decode_z
from molvae.model.vae import vae_loss
from molvae.training import train as train_module
from molvae.training.schedules import kl_weight_at, lr_at
from molvae.training.train import METRIC_COLUMNS, fit, resume_config


def test_tiny_model_overfits_64_molecules(overfit_model: tuple[Path, list[str]]) -> None:
    """>= 95% exact greedy reconstruction of 64 training molecules after 200 seeded full-batch steps (conftest)."""
    checkpoint = load_checkpoint(overfit_model[0])
    model, smiles = checkpoint.build_model(), overfit_model[1]
    ids, lengths = checkpoint.vocab.encode(smiles)
    with torch.no_grad():
        mu, _ = model.encode(ids, lengths)
    decoded = decode_z(model, checkpoint.vocab, mu, greedy=True)
    assert np.mean([a == b for a, b in zip(decoded, smiles)]) >= 0.95


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ("constant", [2.0, 2.0, 2.0, 2.0, 2.0]),
        ("linear", [0.0, 1.0, 2.0, 2.0, 2.0]),
        ("cyclical", [0.0, 1.0, 2.0, 2.0, 0.0]),
    ],
)
def test_kl_schedules(schedule: str, expected: list[float]) -> None:
    cfg = TrainConfig(kl_schedule=schedule, kl_start=0.0, kl_weight=2.0, kl_warmup_steps=100, kl_cycle_steps=300)
    assert [kl_weight_at(s, cfg) for s in (0, 50, 100, 200, 300)] == pytest.approx(expected)


def test_sigmoid_schedule_rises_monotonically_from_start_to_end() -> None:
    cfg = TrainConfig(kl_schedule="sigmoid", kl_start=0.1, kl_weight=1.0, kl_warmup_steps=100)
    values = [kl_weight_at(s, cfg) for s in range(0, 120, 10)]
    assert values == sorted(values) and values[0] < 0.11 and values[5] == pytest.approx(0.55) and values[-1] == 1.0


def test_cosine_learning_rate() -> None:
    cfg = TrainConfig(lr=1e-3, lr_min=1e-5, lr_schedule="cosine")
    assert lr_at(0, 100, cfg) == pytest.approx(1e-3) and lr_at(100, 100, cfg) == pytest.approx(1e-5)
    assert lr_at(50, 100, cfg) == pytest.approx((1e-3 + 1e-5) / 2)
    assert lr_at(50, 100, TrainConfig(lr=1e-3, lr_schedule="constant")) == 1e-3
    assert TrainConfig().lr_schedule == "cosine"  # the default


def tiny(tiny_config_path: Path, **overrides) -> Config:  # noqa: ANN003
    return load_config(tiny_config_path).with_overrides({"n_val_samples": 8, "n_val_reconstruct": 8, **overrides})


def test_run_folder_holds_everything_a_researcher_needs(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    result = fit(small_csv, tiny(tiny_config_path, epochs=1), out=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    names = {p.name for p in run.iterdir()}
    assert names == {"config.toml", "versions.json", "metrics.csv", "rejected.csv", "last.safetensors",
                     "best.safetensors", "loss_curve.png", ".lock"}  # .lock: one trainer at a time (issue 28)
    assert load_config(run / "config.toml") == tiny(tiny_config_path, epochs=1)
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS and set(metrics.split) == {"train", "val"}
    val = metrics[metrics.split == "val"].iloc[-1]
    assert 0 <= val.reconstruction_rate <= 1 and 0 <= val.prior_validity <= 1 and val.active_units >= 0
    assert result.stopped_by == "epochs" and result.epoch == 1 and result.step == metrics.step.max()
    assert (run / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert load_checkpoint(run / "last").train_state["step"] == result.step
    best = load_checkpoint(run / "best")  # the model users load samples from the flow fitted when the run ended
    assert best.extra["sample_source"] == "flow" and best.extra["prior_fit"]["method"] == "flow"
    assert best.extra["prior_fit"]["n_molecules"] == result_train_size(run)
    assert best.extra["sample_temperature"] == 0.7  # the config's, chosen on the validation reference
    assert any(k.startswith("flow_") for k in best.extra_tensors)
    assert any("flow prior fitted to the codes of" in note for note in result.notes)


def result_train_size(run: Path) -> int:
    return load_checkpoint(run / "best").train_state["data"]["n_train"]


def test_a_run_without_an_end_prior_samples_from_n01(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    fit(small_csv, tiny(tiny_config_path, max_steps=10, prior="none"), out=tmp_path / "run", progress=False)
    best = load_checkpoint(tmp_path / "run" / "best")
    assert "sample_source" not in best.extra and not any(k.startswith("flow_") for k in best.extra_tensors)
    assert "sample_temperature" not in best.extra  # N(0, I) at T 1, as before


def test_validation_loss_uses_the_final_kl_weight_during_warm_up(small_csv: Path, tiny_config_path: Path,
                                                                  tmp_path: Path) -> None:
    config = tiny(tiny_config_path, max_steps=30, val_every=10, kl_warmup_steps=1000, kl_weight=0.5)
    fit(small_csv, config, out=tmp_path / "run", progress=False)
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    train, val = metrics[metrics.split == "train"], metrics[metrics.split == "val"]
    assert (train.beta < 0.05).all()  # still warming up
    assert len(val) == 3 and (val.beta == 0.5).all()
    assert np.allclose(val.loss, val.reconstruction + 0.5 * val.kl, rtol=1e-4, atol=1e-3)


def test_training_that_collapses_says_so(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    config = tiny(tiny_config_path, max_steps=40, kl_schedule="constant", kl_weight=50.0, free_bits=0.0)
    result = fit(small_csv, config, out=tmp_path / "run", progress=False)
    assert result.last_validation["active_units"] < 2
    assert len(result.warnings) == 1 and f"posterior collapse at step {result.step}:" in result.warnings[0]


def test_resume_ends_with_weights_identical_to_an_uninterrupted_run(
    small_csv: Path, tiny_config_path: Path, tmp_path: Path
) -> None:
    # a constant learning rate: a cosine one ends where max_steps says, so the cut run (max_steps 23) would follow
    # another schedule than the straight one (a warm restart on resume, by design)
    config = tiny(tiny_config_path, epochs=3, word_dropout=0.2, max_steps=40, lr_schedule="constant")
    fit(small_csv, config, out=tmp_path / "straight", progress=False)
    stopped = fit(small_csv, config.with_overrides({"max_steps": 23}), out=tmp_path / "cut", progress=False)
    assert stopped.stopped_by == "max_steps" and stopped.step == 23
    resumed = fit(small_csv, resume_config(tmp_path / "cut", {"max_steps": 40}), resume=tmp_path / "cut",
                  progress=False)
    assert resumed.step == 40
    a = load_checkpoint(tmp_path / "straight" / "last").model_state
    b = load_checkpoint(tmp_path / "cut" / "last").model_state
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = pd.read_csv(tmp_path / "cut" / "metrics.csv").query("split == 'train'").step.tolist()
    assert steps == sorted(set(steps))  # no step logged twice after the resume


def test_resume_refuses_changes_to_the_model(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    fit(small_csv, tiny(tiny_config_path, max_steps=3), out=tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"\['latent_dim'\] cannot change"):
        resume_config(tmp_path / "run", {"latent_dim": 4})


def test_existing_run_folder_is_never_overwritten(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        fit(small_csv, tiny(tiny_config_path), out=tmp_path / "run", progress=False)


def test_time_limit_stops_training(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    result = fit(small_csv, tiny(tiny_config_path, epochs=1000, max_time="2s"), out=tmp_path / "run", progress=False)
    assert result.stopped_by == "max_time" and result.epoch < 1000


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(
    small_csv: Path, tiny_config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def poisoned(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        terms = vae_loss(*args, **kwargs)
        calls["n"] += torch.is_grad_enabled()  # training steps only, not validation batches
        if calls["n"] == 15:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(train_module, "vae_loss", poisoned)
    with pytest.raises(TrainingError, match="at step 15"):
        fit(small_csv, tiny(tiny_config_path), out=tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run" / "last").train_state["step"] == 10


def _val_rows(metrics: Path) -> int:
    try:
        return sum(1 for line in metrics.read_text().splitlines() if ",val," in line)
    except OSError:
        return 0


@pytest.mark.slow
def test_sigkill_at_any_moment_resumes_to_the_uninterrupted_weights(small_csv: Path, tiny_config_path: Path,
                                                                     tmp_path: Path) -> None:
    """A real training process is killed (SIGKILL) right after a validation row appears (so mid checkpoint write),
    between checkpoints, and before its first checkpoint; each time --resume carries on. The end is the same
    weights as an uninterrupted run, and no temporary file is left behind."""
    import signal
    import subprocess
    import sys
    import time

    overrides = {"epochs": 3, "max_steps": 40, "val_every": 5, "word_dropout": 0.2}
    fit(small_csv, tiny(tiny_config_path, **overrides), out=tmp_path / "straight", progress=False)
    run = tmp_path / "killed"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**overrides, "n_val_samples": 8,
                                                          "n_val_reconstruct": 8}.items()]
    start = [sys.executable, "-m", "molvae", "train", str(small_csv), "--config", str(tiny_config_path), "--out",
             str(run), "--quiet", *flags]
    resume = [sys.executable, "-m", "molvae", "train", str(small_csv), "--resume", str(run), "--quiet"]
    kills = 0
    # kill when: the config is written (before any checkpoint), the 2nd validation row appears (its checkpoint is
    # being written), the 5th appears; then let it finish
    for command, when in [(start, "config"), (resume, 2), (resume, 5), (resume, None)]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if when is not None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                ready = (run / "config.toml").exists() if when == "config" else _val_rows(run / "metrics.csv") >= when
                if ready:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                    break
                time.sleep(0.005)
        _, err = process.communicate(timeout=300)
        if when is None:
            assert process.returncode == 0, err
    assert kills == 3
    a = load_checkpoint(tmp_path / "straight" / "last").model_state
    b = load_checkpoint(run / "last").model_state
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list(run.glob(".*.tmp"))
    steps = pd.read_csv(run / "metrics.csv").query("split == 'train'").step.tolist()
    assert steps == sorted(set(steps))


def test_stale_temporary_files_are_removed_on_resume(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    fit(small_csv, tiny(tiny_config_path, max_steps=3), out=tmp_path / "run", progress=False)
    stale = tmp_path / "run" / ".last.safetensors.99999.tmp"
    stale.write_bytes(b"half a checkpoint")
    fit(small_csv, resume_config(tmp_path / "run", {"max_steps": 5}), resume=tmp_path / "run", progress=False)
    assert not stale.exists()
