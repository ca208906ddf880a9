"""Compare molvae's metrics with the reference MOSES implementation (molsets 0.3.1) on the same inputs.

Usage: python scripts/check_moses_agreement.py [--n-ref 5000] [--n-gen 3000]

molsets 0.3.1 predates pandas 2, numpy 2 and RDKit's removal of ``rdkit.six``; this script downloads its wheel with
pip (no dependencies) into a temporary folder and loads its metric code behind three small compatibility shims
(nothing of it is copied into molvae). Cases, on MOSES data from ``scripts/fetch_zinc.py``: a test subset against
itself, train molecules against test, a set with duplicates, and a set with garbage strings mixed in. It prints every
metric side by side and exits 1 when one differs by more than 0.01 (FCD: 2% relative).
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def load_moses(folder: Path):  # noqa: ANN201
    wheel = ROOT / "data" / "moses" / "molsets-0.3.1-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
                        "molsets==0.3.1"], check=True)
        wheel = folder / wheel.name
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder / "pkg")
    six = types.ModuleType("rdkit.six")
    six.iteritems = lambda d: iter(d.items())
    six.PY3 = True
    sys.modules["rdkit.six"] = six
    import rdkit

    rdkit.six = six
    if not hasattr(pd.DataFrame, "append"):
        pd.DataFrame.append = lambda self, other, sort=False: pd.concat([self, other], sort=sort)
    if not hasattr(np, "NaN"):
        np.NaN = np.nan
    sys.path.insert(0, str(folder / "pkg"))
    from moses.metrics import metrics

    return metrics


def read(name: str) -> list[str]:
    with gzip.open(ROOT / "data" / "moses" / name, "rt") as handle:
        return handle.read().split()[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-ref", type=int, default=5000)
    parser.add_argument("--n-gen", type=int, default=3000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    test, scaffolds, train = read("test.csv.gz"), read("test_scaffolds.csv.gz"), read("train.csv.gz")
    ref = [test[i] for i in rng.permutation(len(test))[: args.n_ref]]
    ref_sf = [scaffolds[i] for i in rng.permutation(len(scaffolds))[: args.n_ref]]
    train_sample = [train[i] for i in rng.permutation(len(train))[: args.n_gen]]
    garbage = ["C1CC", "", "C(C", "N(C)(C)(C)(C)C", "xyz", "[Xx]"] * (args.n_gen // 12)
    cases = {
        "test vs itself": ref[: args.n_gen],
        "train vs test": train_sample,
        "duplicates": train_sample[: args.n_gen // 4] * 4,
        "garbage mixed in": train_sample[: args.n_gen // 2] + garbage,
    }
    with tempfile.TemporaryDirectory() as tmp:
        moses = load_moses(Path(tmp))
        from molvae.evaluation.evaluate import evaluate_samples, load_reference

        Path(tmp, "ref.csv").write_text("smiles\n" + "\n".join(ref) + "\n")
        Path(tmp, "ref_sf.csv").write_text("smiles\n" + "\n".join(ref_sf) + "\n")
        refs = [load_reference("Test", Path(tmp, "ref.csv")), load_reference("TestSF", Path(tmp, "ref_sf.csv"))]
        train_set = set(train)
        worst = []
        for case, gen in cases.items():
            theirs = moses.get_all_metrics(gen, k=[1000, 10000], n_jobs=1, test=ref, test_scaffolds=ref_sf,
                                           train=train)
            ours = evaluate_samples(gen, refs, train=train_set).metrics
            print(f"\n== {case} ({len(gen)} strings)\n{'metric':<16}{'molvae':>12}{'MOSES':>12}{'diff':>12}")
            for key, value in theirs.items():
                mine = ours.get(key if "/" in key or key not in ("logP", "SA", "QED", "weight") else f"{key}/Test",
                                float("nan"))
                diff = abs(mine - value)
                limit = 0.02 * abs(value) if key.startswith("FCD") else 0.01
                flag = "" if diff <= limit or (np.isnan(mine) and np.isnan(value)) else "  <-- over limit"
                worst.append(bool(flag))
                print(f"{key:<16}{mine:>12.4f}{value:>12.4f}{diff:>12.4f}{flag}")
    sys.exit(1 if any(worst) else 0)


if __name__ == "__main__":
    main()
