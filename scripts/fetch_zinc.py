"""Fetch the MOSES splits (a ZINC Clean Leads subset) and build ``data/zinc.csv``.

What it does, step by step (idempotent: a step whose output exists and checks out is skipped):

1. ``pip download --no-deps molsets==0.3.1`` into ``data/moses/`` (PyPI is the only source used).
2. Check the wheel's sha256 against the value pinned below; a mismatch stops everything.
3. Extract ``train.csv.gz``, ``test.csv.gz`` and ``test_scaffolds.csv.gz`` (1.58M / 176k / 176k molecules,
   MIT licence) into ``data/moses/``, which git ignores.
4. Draw 250,000 molecules from the training split with a fixed seed and write ``data/zinc.csv`` with columns
   ``smiles,logP,qed,SAS`` computed with RDKit (Crippen logP, QED, SA score), rounded to 4 decimals, sorted in the
   drawn order. Running it again with the same RDKit version gives the same file byte for byte.

Usage: ``python scripts/fetch_zinc.py [--data-dir data] [--n 250000] [--seed 0] [--force] [--start 0] [--out PATH]``

``--start K --out PATH`` writes molecules K .. K+n of the same seeded draw to PATH instead: ``--start 250000`` gives
molecules no model trained on ``data/zinc.csv`` has seen (the v7 training data and validation reference:
docs/model_card.md).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from molvae.smiles.files import file_sha256 as sha256

WHEEL = "molsets-0.3.1-py3-none-any.whl"
WHEEL_SHA256 = "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34"
SPLITS = {
    "train.csv.gz": "moses/dataset/data/train.csv.gz",
    "test.csv.gz": "moses/dataset/data/test.csv.gz",
    "test_scaffolds.csv.gz": "moses/dataset/data/test_scaffolds.csv.gz",
}


def fetch_wheel(moses_dir: Path) -> Path:
    wheel = moses_dir / WHEEL
    if wheel.exists() and sha256(wheel) == WHEEL_SHA256:
        print(f"[1/3] {wheel} present, sha256 ok")
        return wheel
    print(f"[1/3] downloading {WHEEL} from PyPI (no dependencies, ~52 MB)")
    moses_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(moses_dir), "molsets==0.3.1"]
    subprocess.run(cmd, check=True)
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        raise SystemExit(f"sha256 mismatch for {WHEEL}: got {got}, expected {WHEEL_SHA256}; file removed")
    print(f"      sha256 ok: {got}")
    return wheel


def extract_splits(wheel: Path, moses_dir: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for name, member in SPLITS.items():
            target = moses_dir / name
            if target.exists():
                continue
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(archive.read(member))
            os.replace(tmp, target)
    print(f"[2/3] splits in {moses_dir}: {', '.join(SPLITS)}")


def read_split(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0].strip().upper() == "SMILES", f"unexpected header in {path}: {lines[0]!r}"
    return [line.strip() for line in lines[1:] if line.strip()]


def _props(chunk: list[str]) -> list[str]:
    from rdkit import Chem, RDLogger
    from rdkit.Chem import QED, Crippen
    from rdkit.Contrib.SA_Score import sascorer

    RDLogger.DisableLog("rdApp.*")
    rows = []
    for smiles in chunk:
        mol = Chem.MolFromSmiles(smiles)
        rows.append(
            f"{smiles},{Crippen.MolLogP(mol):.4f},{QED.qed(mol):.4f},{sascorer.calculateScore(mol):.4f}\n"
        )
    return rows


def build_zinc_csv(moses_dir: Path, out: Path, n: int, seed: int, start: int = 0) -> None:
    import numpy as np

    train = read_split(moses_dir / "train.csv.gz")
    order = np.random.default_rng(seed).permutation(len(train))[start : start + n]
    drawn = [train[i] for i in order]
    chunks = [drawn[i : i + 5000] for i in range(0, len(drawn), 5000)]
    buffer = io.StringIO()
    buffer.write("smiles,logP,qed,SAS\n")
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        for rows in pool.map(_props, chunks):
            buffer.writelines(rows)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(buffer.getvalue(), newline="\n")
    os.replace(tmp, out)
    print(f"[3/3] wrote {out}: {len(drawn)} molecules, sha256 {sha256(out)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent.parent / "data")
    parser.add_argument("--n", type=int, default=250_000, help="molecules drawn for zinc.csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild the output file even if present")
    parser.add_argument("--start", type=int, default=0, help="first molecule of the seeded draw to take")
    parser.add_argument("--out", type=Path, default=None, help="output CSV (default DATA_DIR/zinc.csv)")
    args = parser.parse_args()
    moses_dir = args.data_dir / "moses"
    wheel = fetch_wheel(moses_dir)
    extract_splits(wheel, moses_dir)
    out = args.out or args.data_dir / "zinc.csv"
    if out.exists() and not args.force:
        print(f"[3/3] {out} exists (use --force to rebuild it)")
        return
    build_zinc_csv(moses_dir, out, args.n, args.seed, args.start)


if __name__ == "__main__":
    main()
