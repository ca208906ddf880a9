"""Seconds to read + validate + canonicalize + tokenize a SMILES file, first time and from the cache.

Usage: python scripts/benchmark_data.py [data/zinc.csv] [--repeats 3]
The first-load figure uses a fresh, empty cache folder each time; the cached figure is the median of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default="data/zinc.csv", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MOLVAE_CACHE_DIR"] = cache
        from molvae.data import load_corpus

        start = time.perf_counter()
        corpus = load_corpus(args.data)
        first = time.perf_counter() - start
        cached = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            again = load_corpus(args.data)
            cached.append(time.perf_counter() - start)
            assert again.from_cache and again.smiles == corpus.smiles
    print(corpus.summary())
    print(f"{'file':<24}{'molecules':>10}{'first load (s)':>16}{'cached load, median (s)':>26}")
    print(f"{str(args.data):<24}{len(corpus.smiles):>10}{first:>16.2f}{statistics.median(cached):>26.3f}")


if __name__ == "__main__":
    main()
