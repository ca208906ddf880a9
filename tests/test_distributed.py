from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from molvae.model.checkpoint import load_checkpoint
from molvae.training.train import fit, resume_config

WORKER = Path(__file__).parent / "ddp_worker.py"


def launch(nproc: int, data: Path, config: Path, out: Path, dump: Path, batch_size: int, steps: int) -> None:
    dump.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", str(WORKER),
           str(data), str(config), str(out), str(dump), str(batch_size), str(steps)]
    if nproc == 1:
        cmd = [sys.executable, str(WORKER), str(data), str(config), str(out), str(dump), str(batch_size), str(steps)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def train_losses(run: Path) -> pd.Series:
    metrics = pd.read_csv(run / "metrics.csv")
    return metrics[metrics.split == "train"].set_index("step").loss


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-process gloo run (batch 8 per process) and a 1-process run with the same global batch (16)."""
    root = tmp_path_factory.mktemp("ddp")
    data, config = Path(__file__).parent / "data" / "small.csv", Path(__file__).parent.parent / "configs" / "tiny.toml"
    launch(2, data, config, root / "two", root / "dump2", batch_size=8, steps=30)
    launch(1, data, config, root / "one", root / "dump1", batch_size=16, steps=30)
    return root


def test_two_processes_end_with_identical_parameters(runs: Path) -> None:
    rank0, rank1 = load_file(runs / "dump2" / "rank0.safetensors"), load_file(runs / "dump2" / "rank1.safetensors")
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    saved = load_checkpoint(runs / "two" / "last").model_state
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)


def test_loss_curve_matches_a_single_process_with_the_same_global_batch(runs: Path) -> None:
    two, one = train_losses(runs / "two"), train_losses(runs / "one")
    assert list(two.index) == list(one.index) == [5, 10, 15, 20, 25, 30]
    # Same molecules in every global batch; only the random draws (eps, word dropout) differ between the runs.
    relative = ((two - one).abs() / one).max()
    assert relative < 0.05, (two.tolist(), one.tolist())


def test_only_rank_zero_writes_and_a_two_process_checkpoint_resumes_in_one(runs: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in (runs / "two").iterdir()) == sorted(p.name for p in (runs / "one").iterdir())
    assert load_checkpoint(runs / "two" / "last").train_state["world_size"] == 2
    data = Path(__file__).parent / "data" / "small.csv"
    result = fit(data, resume_config(runs / "two", {"max_steps": 34}), resume=runs / "two", progress=False)
    assert result.step == 34 and load_checkpoint(runs / "two" / "last").train_state["world_size"] == 1
