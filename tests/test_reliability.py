"""When the file system or the scheduler says no (issue 28): a full disk, two trainers on one run folder, SIGTERM,
kill -9, requeued jobs, caches that cannot be written. Real processes and signals where the platform allows."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from molvae.cli import main
from molvae.model.checkpoint import load_checkpoint

TINY = ["--n-val-samples", "2", "--n-val-reconstruct", "2", "--n-aggregate", "8", "--quiet", "--threads", "1"]


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_a_full_disk_during_training_names_the_last_good_checkpoint(small_csv: Path, tiny_config_path: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from molvae.training import train as train_module

    save = train_module.save_checkpoint
    calls = {"n": 0}

    def full_after_first(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] > 2:  # the first validation writes best and last; the next write finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return save(path, *args, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", full_after_first)
    run = tmp_path / "run"
    code, err = invoke("train", small_csv, "--config", tiny_config_path, "--out", run, "--max-steps", "6",
                       "--val-every", "2", *TINY)
    assert code == 7 and "Traceback" not in err
    [line] = error_lines(err)
    assert "No space left on device" in line and "last good checkpoint" in line and "(step 2)" in line
    assert load_checkpoint(run / "last.safetensors").train_state["step"] == 2


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def test_sampling_onto_a_really_full_file_system_leaves_no_finished_file(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    small = tmp_path / "small_fs"
    if shutil.which("mount") is None or not _mount_tmpfs(small, "64k"):
        pytest.skip("cannot mount a small tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        code, err = invoke("sample", "--model", overfit_model[0], "--n", "20000", "--seed", "1", "--no-score",
                           "--chunk-size", "2048", "--n-jobs", "1", "--output", small / "big.csv")
        [line] = error_lines(err)
        assert code == 7 and "No space left on device" in line and not (small / "big.csv").exists()
        assert not list(small.glob(".*.tmp"))
    finally:
        subprocess.run(["umount", str(small)], check=False)


def _start_training(small_csv: Path, tiny_config_path: Path, run: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "molvae", "train", str(small_csv), "--config", str(tiny_config_path), "--out", str(run),
         "--max-steps", "100000", "--epochs", "100000", "--val-every", "5", *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.slow
def test_a_second_trainer_is_refused_and_sigterm_ends_the_first_with_a_checkpoint(
        small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = _start_training(small_csv, tiny_config_path, run)
    try:
        _wait_for(lambda: (run / "last.safetensors").exists())
        code, err = invoke("train", small_csv, "--resume", run, "--quiet")
        [line] = error_lines(err)
        assert code == 8 and f"pid {first.pid}" in line and "in use" in line
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 143, stderr[-2000:]
    assert "stopped by terminated" in stderr
    step = load_checkpoint(run / "last.safetensors").train_state["step"]
    code, err = invoke("train", small_csv, "--resume", run, "--max-steps", step + 2, *TINY)  # the lock is free
    assert code == 0, err
    assert load_checkpoint(run / "last.safetensors").train_state["step"] == step + 2


@pytest.mark.slow
def test_kill_9_leaves_no_stale_lock(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = _start_training(small_csv, tiny_config_path, run)
    try:
        _wait_for(lambda: (run / "last.safetensors").exists())
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
    step = load_checkpoint(run / "last.safetensors").train_state["step"]
    code, err = invoke("train", small_csv, "--resume", run, "--max-steps", step + 1, *TINY)
    assert code == 0, err


def test_auto_resume_starts_a_run_once_and_resumes_it_after(small_csv: Path, tiny_config_path: Path,
                                                            tmp_path: Path) -> None:
    run = tmp_path / "run"
    job = ["train", small_csv, "--config", tiny_config_path, "--out", run, "--auto-resume", "--val-every", "2", *TINY]
    code, err = invoke(*job, "--max-steps", "2")
    assert code == 0, err
    code, err = invoke(*job, "--max-steps", "4")  # the same job script, requeued with a later stop
    assert code == 0, err
    assert load_checkpoint(run / "last.safetensors").train_state["step"] == 4
    code, err = invoke(*job, "--max-steps", "6", "--lr", "0.5")  # a setting the run cannot change
    assert code == 2 and "lr" in error_lines(err)[0]


def test_a_cache_folder_that_cannot_be_written_is_a_warning_and_the_work_goes_on(
        small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from molvae.outputs import CacheWarning
    from molvae.smiles.corpus import load_corpus

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(blocker / "cache"))  # a path through a file: ENOTDIR, even as root
    with pytest.warns(CacheWarning, match="not written"):
        corpus = load_corpus(small_csv)
    assert len(corpus.smiles) > 200


@pytest.mark.parametrize("where", ["missing_parent", "a_directory", "under_a_file"])
def test_outputs_the_system_refuses_are_one_line_before_any_work(overfit_model, tmp_path: Path, where: str) -> None:  # noqa: ANN001
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "file").write_text("x")
    target = {"missing_parent": tmp_path / "no" / "out.csv", "a_directory": tmp_path / "dir.csv",
              "under_a_file": tmp_path / "file" / "out.csv"}[where]
    code, err = invoke("sample", "--model", overfit_model[0], "--n", "5", "--output", target)
    [line] = error_lines(err)
    assert code in (2, 7) and str(target.parent if where != "a_directory" else target) in line


def test_a_run_folder_that_is_a_file_is_one_line(small_csv: Path, tiny_config_path: Path, tmp_path: Path) -> None:
    (tmp_path / "run").write_text("a file where the run folder should go")
    code, err = invoke("train", small_csv, "--config", tiny_config_path, "--out", tmp_path / "run", "--max-steps",
                       "1", *TINY)
    [line] = error_lines(err)
    assert code in (2, 7) and "run" in line
