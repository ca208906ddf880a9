from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from click.testing import CliRunner

from molvae import __version__
from molvae.checkpoint import load_checkpoint
from molvae.cli import main
from molvae.sampling import decode_z


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_and_version() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "train" in out
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_train_end_to_end_and_the_result_reloads(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    code, _, err = run("train", str(small_csv), "--config", str(tiny_config_path), "--out", str(tmp_path / "run"),
                       "--epochs", "1", "--latent-dim", "6", "--n-val-samples", "8", "--quiet")
    assert code == 0, err
    assert "stopped by epochs" in err and str(tmp_path / "run") in err
    checkpoint = load_checkpoint(tmp_path / "run")  # a run folder resolves to its best checkpoint
    assert checkpoint.config.model.latent_dim == 6 and checkpoint.config.train.epochs == 1
    model = checkpoint.build_model()
    smiles = decode_z(model, checkpoint.vocab, torch.zeros(3, 6), greedy=True)
    assert len(smiles) == 3 and all(isinstance(s, str) for s in smiles)


def test_resume_from_the_cli(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "run")
    assert run("train", str(small_csv), "--config", str(tiny_config_path), "--out", out, "--max-steps", "4",
               "--quiet")[0] == 0
    code, _, err = run("train", str(small_csv), "--resume", out, "--max-steps", "8", "--quiet")
    assert code == 0, err
    assert load_checkpoint(Path(out) / "last").train_state["step"] == 8
    code, _, err = run("train", str(small_csv), "--resume", out, "--decoder-hidden", "8")
    assert code == 2 and "cannot change" in err


def test_missing_data_file_is_one_line_and_exit_code_3(tmp_path: Path) -> None:
    code, _, err = run("train", str(tmp_path / "nope.csv"))
    assert code == 3 and err == f"error: {tmp_path / 'nope.csv'}: no such file\n"


def test_unknown_config_key_and_bad_values_exit_2_before_work(tmp_path: Path, small_csv: Path) -> None:
    (tmp_path / "c.toml").write_text("[train]\nbatch = 3\n")
    code, _, err = run("train", str(small_csv), "--config", str(tmp_path / "c.toml"))
    assert code == 2 and "unknown key(s) ['batch'] in [train]" in err and "Traceback" not in err
    code, _, err = run("train", str(small_csv), "--latent-dim", "-4")
    assert code == 2 and "latent_dim = -4" in err
    code, _, err = run("train", str(small_csv), "--device", "cuda:7")
    assert code == 2 and "cuda:7" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--debug", "train", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0 and result.exception is not None


def test_python_dash_m_molvae_works() -> None:
    done = subprocess.run([sys.executable, "-m", "molvae", "--version"], capture_output=True, text=True, check=True)
    assert __version__ in done.stdout
