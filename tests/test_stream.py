"""Sampling at scale (molvae.generation.stream, MolVAE.iter_samples, molvae sample): the same molecules whatever the
chunk size, the workers or the shards; the output file complete or not at all; shards under torchrun."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from molvae import MolVAE
from molvae.cli import main
from molvae.generation.stream import BLOCK, HashSet, Tally


@pytest.fixture(scope="module")
def vae(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    return MolVAE.load(overfit_model[0])


def invoke(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_same_seed_gives_the_same_molecules_whatever_the_chunk_size_and_workers(vae: MolVAE) -> None:
    n = 2 * BLOCK + 300
    small = pd.concat(vae.iter_samples(n, chunk_size=BLOCK, seed=3, score=False, n_jobs=1), ignore_index=True)
    large = pd.concat(vae.iter_samples(n, chunk_size=10 * BLOCK, seed=3, score=False, n_jobs=2), ignore_index=True)
    assert len(small) == len(large) == n
    assert small.smiles.tolist() == large.smiles.tolist() == vae.sample(n, seed=3)
    assert vae.sample(500, seed=3) == small.smiles.tolist()[:500]  # a smaller sample is the start of a larger one


def test_shards_are_disjoint_parts_whose_union_is_the_whole_sample(vae: MolVAE) -> None:
    n = 4 * BLOCK + 10
    whole = vae.sample(n, seed=9)
    parts = [pd.concat(vae.iter_samples(n, seed=9, score=False, shard=(i, 3)), ignore_index=True).smiles.tolist()
             for i in range(3)]
    assert sum(len(p) for p in parts) == n
    assert sorted(s for p in parts for s in p) == sorted(whole)
    assert parts[0][:BLOCK] == whole[:BLOCK] and parts[1][:BLOCK] == whole[BLOCK : 2 * BLOCK]


def test_frames_come_in_chunks_and_the_tally_counts_everything_drawn(vae: MolVAE) -> None:
    tally = Tally()
    frames = list(vae.iter_samples(3 * BLOCK, chunk_size=BLOCK, seed=1, score=False, unique=True, tally=tally))
    assert len(frames) == 3 and tally.n == 3 * BLOCK
    canonical = pd.concat(frames).canonical_smiles
    assert canonical.is_unique and len(canonical) == tally.distinct == tally.rows  # unique across chunks
    assert tally.valid >= tally.distinct


def test_the_hash_set_reports_first_occurrences_within_and_across_calls() -> None:
    seen = HashSet()
    assert seen.add_new(np.array([5, 3, 5, 9], dtype=np.int64)).tolist() == [True, True, False, True]
    assert seen.add_new(np.array([9, 1, 1], dtype=np.int64)).tolist() == [False, True, False]
    assert len(seen) == 4 and seen.sorted.dtype == np.int64


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_sample_streams_to_csv_gzipped_csv_and_parquet(overfit_model, tmp_path: Path, suffix: str) -> None:  # noqa: ANN001
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    target = tmp_path / f"out{suffix}"
    code, _, err = invoke("sample", "--model", overfit_model[0], "--n", 1500, "--seed", 2, "--chunk-size", 1024,
                          "--output", target, "--n-jobs", 1)
    assert code == 0, err
    frame = pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target)
    assert len(frame) == 1500 and "qed" in frame.columns and "1500 rows in" in err
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("failure, code, words", [
    (OSError(errno.ENOSPC, "No space left on device"), 7, "No space left on device"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_failed_write_leaves_no_finished_looking_file_and_says_what_was_written(
        overfit_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, code: int,  # noqa: ANN001
        words: str) -> None:
    from molvae.outputs import TableWriter

    write = TableWriter.write

    def failing(self, frame):  # noqa: ANN001, ANN202
        if self.rows >= BLOCK:  # the second chunk fails
            raise failure
        write(self, frame)

    monkeypatch.setattr(TableWriter, "write", failing)
    target = tmp_path / "big.csv.gz"
    got, _, err = invoke("sample", "--model", overfit_model[0], "--n", 3 * BLOCK, "--seed", 1, "--chunk-size", BLOCK,
                         "--no-score", "--output", target, "--n-jobs", 1)
    assert got == code and not target.exists()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and words in lines[0] and f"{BLOCK} rows were written to" in lines[0]
    assert (tmp_path / "big.csv.gz.partial").exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_shard_needs_an_output_and_a_bad_shard_is_a_clear_error(overfit_model) -> None:  # noqa: ANN001
    code, _, err = invoke("sample", "--model", overfit_model[0], "--n", 10, "--shard", "2/2", "--output", "x.csv")
    assert code == 2 and "0 <= I < K" in err
    code, _, err = invoke("sample", "--model", overfit_model[0], "--n", 10, "--shard", "0/2")
    assert code == 2 and "--output" in err


@pytest.mark.slow
def test_two_ranks_under_torchrun_write_the_same_parts_as_two_shards(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    common = ["--model", str(overfit_model[0]), "--n", str(2 * BLOCK + 100), "--seed", "4", "--no-score",
              "--n-jobs", "1"]
    script = tmp_path / "run_sample.py"  # torchrun would read molvae's --n as an abbreviation of its own options
    script.write_text(f"from molvae.cli import main\nmain({['sample', *common, '--output', str(tmp_path / 'big.csv')]!r})\n")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for i in range(2):
        code, _, err = invoke("sample", *common, "--shard", f"{i}/2", "--output", tmp_path / "part.csv")
        assert code == 0, err
        rank = pd.read_csv(tmp_path / f"big.rank{i}.csv")
        shard = pd.read_csv(tmp_path / f"part.shard{i}-of-2.csv")
        assert rank.smiles.tolist() == shard.smiles.tolist()
    totals = json.loads((tmp_path / "big.csv.summary.json").read_text())
    assert totals["parts"] == 2 and totals["n"] == 2 * BLOCK + 100


def test_combine_joins_parts_and_drops_duplicates_across_them(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    for i in range(2):
        code, _, err = invoke("sample", "--model", overfit_model[0], "--n", BLOCK + 200, "--seed", 8, "--no-score",
                              "--shard", f"{i}/2", "--output", tmp_path / "big.csv.gz", "--n-jobs", 1)
        assert code == 0, err
    parts = sorted(tmp_path.glob("big.shard*-of-2.csv.gz"))
    code, _, err = invoke("combine", *parts, "--output", tmp_path / "all.csv")
    assert code == 0 and f"{BLOCK + 200} rows read from 2 part(s)" in err
    whole = pd.read_csv(tmp_path / "all.csv")
    code, _, err = invoke("combine", *parts, "--unique", "--output", tmp_path / "distinct.csv")
    distinct = pd.read_csv(tmp_path / "distinct.csv")
    assert code == 0 and distinct.canonical_smiles.is_unique
    assert set(distinct.canonical_smiles) == set(whole.canonical_smiles.dropna())
