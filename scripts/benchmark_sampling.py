"""Sampling speed of trained models, and the wall time of the CLI next to a bare `import torch, rdkit`.

Usage: python scripts/benchmark_sampling.py MODEL [MODEL ...] [--n 10000] [--repeats 3]

For each model: molecules/s of drawing n molecules from the prior (decode only; decode + RDKit validity;
decode + validity + scores on all cores), median of the repeats. Then the median wall time of
`molvae sample --n 1000 --model MODEL[0]` and of `python -c "import torch, rdkit"` (fresh processes).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(func, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from molvae import MolVAE
    from molvae.chem import canonicalize_many

    print(f"torch threads {torch.get_num_threads()}; n = {args.n}; median of {args.repeats}")
    print(f"{'model':<40}{'decode only':>14}{'+ validity':>14}{'+ scores':>14}{'valid':>8}  (molecules/s)")
    for path in args.models:
        vae = MolVAE.load(path)
        decode = timed(lambda: vae.sample(args.n, seed=0), args.repeats)  # noqa: B023
        validate = timed(lambda: canonicalize_many(vae.sample(args.n, seed=0)), args.repeats)  # noqa: B023
        scored = timed(lambda: vae.sample_frame(args.n, seed=0), args.repeats)  # noqa: B023
        valid = vae.sample_frame(args.n, seed=0, score=False)[1]["valid"]
        print(f"{str(path):<40}{args.n / decode:>14.0f}{args.n / validate:>14.0f}{args.n / scored:>14.0f}{valid:>8.3f}")

    def run(cmd: list[str]) -> float:
        return timed(lambda: subprocess.run(cmd, check=True, capture_output=True), args.repeats)

    cli = run([sys.executable, "-m", "molvae", "sample", "--n", "1000", "--model", str(args.models[0]), "--seed", "0"])
    bare = run([sys.executable, "-c", "import torch, rdkit"])
    print(f"`molvae sample --n 1000` wall time {cli:.2f} s; `python -c 'import torch, rdkit'` {bare:.2f} s")


if __name__ == "__main__":
    main()
