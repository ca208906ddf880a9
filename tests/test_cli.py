from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from molvae import MolVAE, __version__
from molvae.cli import main
from molvae.model.checkpoint import load_checkpoint
from molvae.model.sampling import decode_z


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


def test_sample_to_stdout_and_to_a_file_never_overwriting(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    model = str(overfit_model[0])
    code, out, err = run("sample", "--n", "20", "--model", model, "--seed", "1", "--n-jobs", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "smiles,valid,canonical_smiles,qed,logP,SA,MW,penalized_logP,novel" and len(lines) == 21
    assert "20 sampled: valid" in err and "novel" in err and "molecules/s" in err
    target = tmp_path / "s.csv"
    assert run("sample", "--n", "20", "--model", model, "--seed", "1", "--output", str(target))[0] == 0
    assert target.read_text() == out
    code, _, err = run("sample", "--n", "5", "--model", model, "--output", str(target))
    assert code == 2 and "exists; pass --force" in err and target.read_text() == out
    assert run("sample", "--n", "5", "--model", model, "--output", str(target), "--force")[0] == 0
    assert len(target.read_text().splitlines()) == 6


def test_sample_filters_and_bad_options(overfit_model) -> None:  # noqa: ANN001
    model = str(overfit_model[0])
    code, out, _ = run("sample", "--n", "30", "--model", model, "--seed", "0", "--valid-only", "--unique", "--no-score")
    assert code == 0 and out.splitlines()[0] == "smiles,valid,canonical_smiles,novel"
    rows = out.splitlines()[1:]
    assert all(",True," in r for r in rows) and len({r.split(",")[2] for r in rows}) == len(rows)
    assert run("sample", "--n", "0", "--model", model)[0] == 2
    code, raw, _ = run("sample", "--n", "30", "--model", model, "--seed", "0", "--no-syntax-mask", "--no-score",
                       "--temperature", "3")
    code2, masked, _ = run("sample", "--n", "30", "--model", model, "--seed", "0", "--no-score", "--temperature", "3")
    assert code == code2 == 0 and raw != masked
    code, _, err = run("sample", "--n", "3", "--model", model, "--temperature", "-1")
    assert code == 2 and "--temperature -1.0" in err
    code, _, err = run("sample", "--n", "3", "--model", model, "--device", "cuda")
    assert code == 2 and "no CUDA GPU" in err


def test_every_model_command_decodes_in_the_precision_asked_for(overfit_model) -> None:  # noqa: ANN001
    model, smiles = str(overfit_model[0]), overfit_model[1]
    code, out, _ = run("sample", "--n", "20", "--model", model, "--seed", "0", "--no-score", "--precision", "bf16")
    assert code == 0 and len(out.splitlines()) == 21
    code, out, _ = run("interpolate", smiles[0], smiles[1], "--model", model, "--steps", "4", "--precision", "auto")
    assert code == 0 and smiles[0] in out
    code, _, err = run("sample", "--n", "3", "--model", model, "--precision", "fp16")
    assert code == 2 and "'fp16' is not one of 'fp32', 'bf16', 'auto'" in err


def test_sample_without_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from molvae import api

    monkeypatch.setattr(api, "BUNDLED_MODEL", tmp_path / "default.safetensors")  # as if installed without one
    code, _, err = run("sample", "--n", "3")
    assert code == 4 and "no bundled model 'default' is installed" in err and "Traceback" not in err


def test_score_keeps_invalid_rows_with_their_lines(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("name,smiles\na,CCO\nb,C1CC\nc,\n")
    code, out, err = run("score", str(data), "--n-jobs", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "line,smiles,valid,canonical_smiles,qed,logP,SA,MW,penalized_logP"
    assert lines[1].startswith("2,CCO,True,CCO,") and lines[2] == "3,C1CC,False,,,,,," and lines[3] == "4,,False,,,,,,"
    assert "3 rows scored, 1 valid" in err


def test_encode_decode_and_interpolate(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    model, smiles = str(overfit_model[0]), overfit_model[1]
    data = tmp_path / "in.smi"
    data.write_text("\n".join(smiles[:5]) + "\n")
    z_file = tmp_path / "z.npy"
    code, _, err = run("encode", str(data), "--model", model, "--output", str(z_file))
    assert code == 0, err
    code, out, err = run("decode", str(z_file), "--model", model)
    assert code == 0, err
    decoded = [line.split(",", 1)[1] for line in out.splitlines()[1:]]
    assert sum(a == b for a, b in zip(decoded, smiles[:5])) >= 4
    code, out, _ = run("interpolate", smiles[0], smiles[1], "--steps", "6", "--model", model)
    rows = [line.split(",") for line in out.splitlines()]
    assert code == 0 and rows[0] == ["smiles", "similarity_start", "similarity_end"]
    assert rows[1][0] == smiles[0] and rows[-1][0] == smiles[1]
    # similarity to the molecules as given: 1 at each end of the path
    assert float(rows[1][1]) == 1.0 and float(rows[-1][2]) == 1.0


def test_encode_names_file_and_line_of_an_unencodable_row_or_skips_it(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    model = str(overfit_model[0])
    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\nC[Se]C\n")
    code, _, err = run("encode", str(data), "--model", model, "--output", str(tmp_path / "z.npy"))
    assert code == 3 and f"{data}:3:" in err and "[Se]" in err
    code, _, err = run("encode", str(data), "--model", model, "--output", str(tmp_path / "z.csv"), "--errors", "skip")
    assert code == 0 and "1 NaN rows" in err
    assert (tmp_path / "z.csv").read_text().splitlines()[2].startswith(",")  # an empty (NaN) row


def test_decode_rejects_a_wrong_width_and_a_pickle(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    import numpy as np

    model = str(overfit_model[0])
    np.save(tmp_path / "z.npy", np.zeros((2, 3), dtype=np.float32))
    code, _, err = run("decode", str(tmp_path / "z.npy"), "--model", model)
    assert code == 2 and "shape (2, 3)" in err
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run("decode", str(tmp_path / "o.npy"), "--model", model)
    assert code == 2 and "not a .npy array" in err
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 6)), b=np.zeros((2, 6)))
    code, _, err = run("decode", str(tmp_path / "two.npz"), "--model", model)
    assert code == 2 and "archive of 2 arrays (a, b)" in err
    (tmp_path / "cut.npz").write_bytes((tmp_path / "two.npz").read_bytes()[:100])
    code, _, err = run("decode", str(tmp_path / "cut.npz"), "--model", model)
    assert code == 2 and "not a .npy array" in err


def test_decode_reads_an_npz_of_one_array(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    import numpy as np

    model, smiles = overfit_model
    z = MolVAE.load(model).encode(smiles[:3]).numpy()
    np.savez(tmp_path / "z.npz", z=z)
    code, out, _ = run("decode", str(tmp_path / "z.npz"), "--model", str(model))
    assert code == 0 and len(out.splitlines()) == 4


def test_sample_uses_the_bundled_model_without_model_option() -> None:
    code, out, err = run("sample", "--n", "20", "--seed", "0")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0] == "smiles,valid,canonical_smiles,qed,logP,SA,MW,penalized_logP,novel"
    assert len(lines) == 21 and "20 sampled: valid" in err and "novel" in err
