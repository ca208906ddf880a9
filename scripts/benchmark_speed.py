"""One run, one table: how fast molvae trains, samples and reads data on this machine, next to the machine's own GEMM
throughput (the ceiling every figure is compared against).

Usage: python scripts/benchmark_speed.py [--data data/zinc.csv] [--sample-models RUN ...] [--steps 30]
       [--configs configs/moses.toml configs/default.toml] [--precisions fp32 bf16] [--skip data,train,sample,cli]

- GEMM: median GFLOP/s of square matmuls the size of the models' largest (3 x decoder hidden), fp32 and bf16.
- Training: the real ``molvae.training.train.fit`` for warm-up + ``--steps`` steps; molecules/s is the median of its logged
  windows after warm-up. FLOPs are counted analytically from the GEMMs of the model (multiply-adds x 2), on the real
  (non-pad) tokens of the data, x 3 for forward + backward (backward = 2 forward); element-wise work is not counted.
  Achieved GFLOP/s is that count x molecules/s; the ratio is to the GEMM ceiling of the same precision.
  Padding: the share of pad positions in the length-bucketed batches of one epoch, and in random batches.
- Sampling: molecules/s drawing 10,000 from the prior (decode only; + RDKit validity; + all scores), per model and
  precision (``MolVAE.load(precision=...)``: bf16 runs the decoder's matrix products in bf16).
- Data: seconds to read + validate + tokenize the data file with an empty cache, then from the cache.
- End to end: wall time of `molvae sample --n 1000` with the first sampling model next to
  `python -c "import torch, rdkit"` (fresh processes, median of 3).
Do not run anything else meanwhile: two cores are shared by everything.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def gemm_gflops(n: int, dtype: torch.dtype, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def flops_per_molecule(config, vocab_size: int, tokens: float) -> float:  # noqa: ANN001
    """Training FLOPs per molecule of ``tokens`` real positions: 3 x 2 x GEMM multiply-adds of one forward pass."""
    m = config.model
    emb = m.embedding_dim if m.embedding == "learned" else vocab_size
    directions = 2 if m.encoder_bidirectional else 1
    enc, width = 0, emb
    for _ in range(m.encoder_layers):
        enc += directions * 3 * m.encoder_hidden * (width + m.encoder_hidden)
        width = directions * m.encoder_hidden
    dec = 3 * m.decoder_hidden * (emb + m.latent_dim + m.decoder_hidden)
    dec += (m.decoder_layers - 1) * 3 * m.decoder_hidden * 2 * m.decoder_hidden
    head = m.decoder_hidden * vocab_size
    per_molecule = width * m.encoder_layers * 2 * m.latent_dim + m.latent_dim * m.decoder_hidden * m.decoder_layers
    return 3 * 2 * ((enc + dec + head) * tokens + per_molecule)


def pad_share(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    padded = sum(int(lengths[b].max()) * len(b) for b in batches)
    return 1.0 - float(lengths.sum()) / padded


def bench_training(data: Path, config_path: Path, precision: str, warmup: int, steps: int) -> dict:
    from molvae.config import load_config
    from molvae.smiles.corpus import load_corpus
    from molvae.training.batching import bucket_batches
    from molvae.training.train import fit

    config = load_config(config_path).with_overrides({
        "precision": precision, "max_steps": warmup + steps, "log_every": 1, "val_every": 10**6,
        "n_val_samples": 1, "n_val_reconstruct": 1, "n_aggregate": 16, "val_fraction": 0.002,
    })
    with tempfile.TemporaryDirectory() as out:
        fit(data, config, out=Path(out) / "run", progress=False)
        with open(Path(out) / "run" / "metrics.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    rates = [float(r["molecules_per_s"]) for r in rows
             if r["split"] == "train" and int(r["step"]) > warmup and r["molecules_per_s"]]
    corpus = load_corpus(data, kekule=config.data.kekule)  # the strings this config trains on (cached by fit)
    lengths = corpus.lengths.astype(np.int64) - 1  # decoder target positions per molecule (tokens + eos)
    tokens = float(lengths.mean())
    batch = config.train.batch_size
    bucketed = bucket_batches(lengths, batch, 0, 0)
    order = np.random.default_rng(0).permutation(len(lengths))
    shuffled = [order[i : i + batch] for i in range(0, len(order), batch)]
    rate = statistics.median(rates)
    flops = flops_per_molecule(config, len(corpus.vocab), tokens)
    return {"molecules_per_s": rate, "tokens_per_s": rate * tokens, "gflop_per_molecule": flops / 1e9,
            "gflops": rate * flops / 1e9, "pad_bucketed": pad_share(lengths, bucketed),
            "pad_random": pad_share(lengths, shuffled)}


def timed(func, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/zinc.csv"))
    parser.add_argument("--configs", nargs="+", type=Path, default=[Path("configs/moses.toml"),
                                                                    Path("configs/default.toml")])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--sample-models", nargs="*", type=Path, default=[])
    parser.add_argument("--n-sample", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: data,train,sample,cli")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}")

    from molvae.config import load_config

    size = max(3 * load_config(c).model.decoder_hidden for c in args.configs)
    ceiling = {"fp32": gemm_gflops(size, torch.float32), "bf16": gemm_gflops(size, torch.bfloat16)}
    print(f"\nGEMM {size}x{size}x{size}: fp32 {ceiling['fp32']:.0f} GFLOP/s, bf16 {ceiling['bf16']:.0f} GFLOP/s")

    if "data" not in skip:
        with tempfile.TemporaryDirectory() as cache:
            os.environ["MOLVAE_CACHE_DIR"] = cache
            from molvae.config import Config
            from molvae.smiles.corpus import load_corpus

            start = time.perf_counter()
            kekule = Config().data.kekule  # what `molvae train` does by default
            corpus = load_corpus(args.data, kekule=kekule)
            first = time.perf_counter() - start
            cached = timed(lambda: load_corpus(args.data, kekule=kekule), args.repeats)
            del os.environ["MOLVAE_CACHE_DIR"]
        print(f"\ndata {args.data}: {len(corpus.smiles)} molecules; first load {first:.1f} s, cached {cached:.3f} s")

    if "train" not in skip:
        print(f"\n{'training':<28}{'prec':>6}{'mol/s':>8}{'tokens/s':>10}{'GFLOP/mol':>10}{'GFLOP/s':>9}"
              f"{'of GEMM':>9}{'pad (bucketed/random)':>24}")
        for config in args.configs:
            for precision in args.precisions:
                r = bench_training(args.data, config, precision, args.warmup, args.steps)
                print(f"{str(config):<28}{precision:>6}{r['molecules_per_s']:>8.1f}{r['tokens_per_s']:>10.0f}"
                      f"{r['gflop_per_molecule']:>10.3f}{r['gflops']:>9.1f}{r['gflops'] / ceiling[precision]:>9.0%}"
                      f"{r['pad_bucketed']:>13.1%} / {r['pad_random']:.1%}")

    if "sample" not in skip and args.sample_models:
        from molvae import MolVAE
        from molvae.chemistry.chem import canonicalize_many
        from molvae.smiles.tokenizer import tokenize

        n = args.n_sample
        print(f"\n{'sampling ' + str(n):<40}{'prec':>6}{'decode':>10}{'+ valid':>10}{'+ scores':>10}{'valid':>8}"
              f"{'tokens':>8}  (molecules/s; tokens: mean per molecule)")
        for path in args.sample_models:
            for precision in args.precisions:
                vae = MolVAE.load(path, precision=precision)
                decode = timed(lambda: vae.sample(n, seed=0), args.repeats)  # noqa: B023
                validate = timed(lambda: canonicalize_many(vae.sample(n, seed=0)), args.repeats)  # noqa: B023
                scored = timed(lambda: vae.sample_frame(n, seed=0), args.repeats)  # noqa: B023
                strings = vae.sample(n, seed=0)
                valid = sum(c is not None for c in canonicalize_many(strings)) / n
                tokens = sum(len(tokenize(s)) for s in strings) / n
                print(f"{str(path):<40}{precision:>6}{n / decode:>10.0f}{n / validate:>10.0f}{n / scored:>10.0f}"
                      f"{valid:>8.3f}{tokens:>8.1f}")

    if "cli" not in skip and args.sample_models:
        def run(cmd: list[str]) -> float:
            return timed(lambda: subprocess.run(cmd, check=True, capture_output=True), args.repeats)

        from molvae.api import BUNDLED_MODEL

        model = args.sample_models[0]  # the bundled model is run as users run it: no --model, sha256 checked
        chosen = [] if model.resolve() == BUNDLED_MODEL.resolve() else ["--model", str(model)]
        cli = run([sys.executable, "-m", "molvae", "sample", "--n", "1000", *chosen, "--seed", "0"])
        unscored = run([sys.executable, "-m", "molvae", "sample", "--n", "1000", *chosen, "--seed", "0", "--no-score"])
        bare = run([sys.executable, "-c", "import torch, rdkit"])
        print(f"\n`molvae sample --n 1000` {cli:.2f} s; `python -c 'import torch, rdkit'` {bare:.2f} s; "
              f"ratio {cli / bare:.2f}")
        print(f"`molvae sample --n 1000 --no-score` (no QED/logP/SA/MW columns) {unscored:.2f} s; "
              f"ratio {unscored / bare:.2f}")


if __name__ == "__main__":
    main()
