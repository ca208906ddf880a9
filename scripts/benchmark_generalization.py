"""Does a model fit its training molecules better than unseen ones? The gap tells whether more data (or augmentation)
or more capacity and compute is what it lacks (issue #25's pilots).

For n molecules of each set — training molecules the model saw (its run's training split), its held-out
validation split, and MOSES Test (never seen) — prints the per-molecule reconstruction NLL (teacher forced, z drawn
from q(z|x) with a fixed seed), KL to N(0, I), the ELBO (beta 1, no free bits), token accuracy and greedy exact
reconstruction from the encoder mean.

Usage: python scripts/benchmark_generalization.py [--model default] [--data data/zinc.csv]
       [--test data/moses/test.csv.gz] [--n 2000] [--json OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
import torch

from molvae.api import MolVAE
from molvae.model.vae import reparameterize, vae_loss
from molvae.smiles.corpus import load_corpus
from molvae.training.batching import split_indices


def read_test(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line.strip() for line in handle.read().splitlines()[1:] if line.strip()]


@torch.no_grad()
def fit_terms(vae: MolVAE, smiles: list[str], seed: int = 0, batch_size: int = 256) -> dict[str, float]:
    """Mean per-molecule NLL, KL, ELBO and token accuracy of ``smiles`` under ``vae``; greedy reconstruction rate."""
    prepared = [r for r in vae.standardize(smiles, "none") if r.ok]
    generator = torch.Generator().manual_seed(seed)
    totals = {"nll": 0.0, "kl": 0.0, "token_accuracy": 0.0}
    mus = []
    for start in range(0, len(prepared), batch_size):
        chunk = prepared[start : start + batch_size]
        ids, lengths = vae.vocab.pad([vae.vocab.token_ids(r.written) for r in chunk])
        mu, logvar = vae.model.encode(ids, lengths)
        logits = vae.model.decode(reparameterize(mu, logvar, generator), ids[:, :-1])
        terms = vae_loss(logits, ids[:, 1:], mu, logvar, beta=1.0, free_bits=0.0, pad_id=vae.vocab.pad_id)
        totals["nll"] += float(terms["reconstruction"]) * len(chunk)
        totals["kl"] += float(terms["kl"]) * len(chunk)
        totals["token_accuracy"] += float(terms["token_accuracy"]) * len(chunk)
        mus.append(mu)
    out = {k: v / len(prepared) for k, v in totals.items()}
    out["elbo"] = -(out["nll"] + out["kl"])
    decoded = vae.decode(torch.cat(mus))
    out["recon_greedy"] = float(np.mean([d == r.smiles for d, r in zip(decoded, prepared)]))
    out["n"] = len(prepared)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=Path("data/zinc.csv"), help="the file the model trained on")
    parser.add_argument("--test", type=Path, default=Path("data/moses/test.csv.gz"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    vae = MolVAE.load(args.model)
    cfg = vae.config
    corpus = load_corpus(args.data, cfg.data.smiles_column, cfg.data.max_length, kekule=cfg.data.kekule)
    train_idx, val_idx = split_indices(len(corpus.smiles), cfg.data.val_fraction, cfg.train.seed)
    rng = np.random.default_rng(0)
    sets = {
        "train (seen)": [corpus.smiles[i] for i in rng.choice(train_idx, args.n, replace=False)],
        "validation (held out)": [corpus.smiles[i] for i in rng.choice(val_idx, min(args.n, len(val_idx)), replace=False)],
        "MOSES Test": list(rng.choice(read_test(args.test), args.n, replace=False)),
    }
    rows = {name: fit_terms(vae, smiles) for name, smiles in sets.items()}
    print(f"model {args.model}, {args.n} molecules per set")
    print(f"{'set':<24}{'NLL':>8}{'KL':>8}{'-ELBO':>9}{'tok acc':>9}{'greedy':>8}")
    for name, r in rows.items():
        print(f"{name:<24}{r['nll']:8.3f}{r['kl']:8.2f}{-r['elbo']:9.3f}{r['token_accuracy']:9.4f}{r['recon_greedy']:8.3f}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "n": args.n, "sets": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
