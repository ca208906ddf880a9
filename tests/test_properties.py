from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from molvae.api import MolVAE
from molvae.errors import DataError
from molvae.model.checkpoint import load_checkpoint
from molvae.model.properties import fit_head, predict, prediction_errors, standardization
from molvae.smiles.files import read_properties


def test_standardization_ignores_unknown_values_and_constant_columns() -> None:
    values = np.array([[1.0, 5.0], [3.0, 5.0], [np.nan, 5.0]], dtype=np.float32)
    mean, std = standardization(values)
    assert mean.tolist() == [2.0, 5.0]
    assert std.tolist() == [1.0, 1.0]


def test_prediction_errors_are_mae_and_r2_over_known_targets() -> None:
    target = np.array([[1.0], [2.0], [3.0], [np.nan]])
    predicted = np.array([[1.0], [2.0], [4.0], [100.0]])
    errors = prediction_errors(predicted, target, ["x"])["x"]
    assert errors["n"] == 3
    assert errors["mae"] == pytest.approx(1 / 3)
    assert errors["r2"] == pytest.approx(1 - 1 / 2)


def test_fit_head_learns_a_smooth_function_of_z() -> None:
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 8, generator=generator)
    y = np.stack([3 * z[:, 0].numpy() + 10, np.tanh(z[:, 1].numpy())], axis=1).astype(np.float32)
    head = fit_head(z[:1500], y[:1500], hidden=64, epochs=60)
    errors = prediction_errors(predict(head, z[1500:]), y[1500:], ["a", "b"])
    assert errors["a"]["r2"] > 0.95 and errors["b"]["r2"] > 0.9


def test_read_properties_aligns_lines_and_names_bad_cells(tmp_path: Path) -> None:
    good = tmp_path / "p.csv"
    good.write_text("smiles,logP,qed\nCCO,1.5,0.4\nCCN,,0.5\nCCC,nan,0.6\n")
    values = read_properties(good, ["qed", "logP"], np.array([2, 4]))
    assert values[0].tolist() == pytest.approx([0.4, 1.5])
    assert values[1, 0] == pytest.approx(0.6) and np.isnan(values[1, 1])
    with pytest.raises(DataError, match=r"no column\(s\) \['SAS'\]"):
        read_properties(good, ["SAS"], np.array([2]))
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles,logP\nCCO,1.5\nCCN,high\n")
    with pytest.raises(DataError, match=r"bad.csv:3: column 'logP' holds 'high'"):
        read_properties(bad, ["logP"], np.array([2, 3]))
    with pytest.raises(DataError, match="need a .csv/.tsv"):
        read_properties(tmp_path / "x.smi", ["logP"], np.array([1]))


def test_joint_training_saves_the_predictor_with_its_errors(small_csv: Path, tiny_config_path: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "molvae", "train", str(small_csv), "--config", str(tiny_config_path), "--out",
           str(out), "--properties", "logP,qed", "--epochs", "1", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "property logP: validation MAE" in result.stderr
    checkpoint = load_checkpoint(out / "best.safetensors")
    assert checkpoint.config.data.property_list == ["logP", "qed"]
    assert set(checkpoint.train_state["property_errors"]) == {"logP", "qed"}
    model = checkpoint.build_model()
    assert model.property_head is not None
    assert float(model.property_head.std[0]) > 0.1  # the training split's spread, not the identity default
    frame = MolVAE.load(out).predict_properties(["CCO", "C[Se]C"])
    assert list(frame.columns) == ["logP", "qed", "smiles"]
    assert np.isfinite(frame.logP[0]) and np.isnan(frame.logP[1])  # selenium is not in the vocabulary


def test_fit_properties_cli_writes_a_model_with_a_predictor(overfit_model, tmp_path: Path) -> None:
    path, _ = overfit_model
    out = tmp_path / "with_props.safetensors"
    cmd = [sys.executable, "-m", "molvae", "fit-properties", str(path.parent / "train64.csv"), "--model", str(path),
           "--properties", "logP,qed,SAS", "--epochs", "20", "--output", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "held-out MAE" in result.stdout
    vae = MolVAE.load(out)
    assert vae.config.data.property_list == ["logP", "qed", "SAS"]
    assert set(vae.checkpoint.train_state["property_errors"]) == {"logP", "qed", "SAS"}
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr
