"""Where should z come from? MOSES metrics of molecules decoded from different latent sources of one model: N(0, I),
its fitted mixture and flow priors (when it has them), draws from the posteriors q(z|x) of training molecules, and
those posteriors' means. The gap between N(0, I) and the posterior draws is how much a better prior could gain without
training the decoder again (docs/model_history.md, v5's card: "The fitted prior").

With --widen S1,S2,...: also exemplar priors (``molvae fit-prior --method exemplar``: the posteriors of --exemplars
training molecules, standard deviations times S), at each of --temperatures: the novelty / FCD trade-off; with
--flow-widen S1,S2,...: the model's flow prior (``molvae fit-prior --method flow``) with its base distribution's
standard deviation times S, at each of --temperatures; with --mixture-widen S1,S2,...: the model's fitted mixture
(``molvae fit-prior --method em``) with every standard deviation times S.

Settings are chosen against a validation reference, never against Test: ``--reference Valid=data/moses/valid_reference.csv``
(50,000 MOSES training molecules that no bundled model trained on: ``python scripts/fetch_zinc.py --start 1534663
--n 50000 --out data/moses/valid_reference.csv``; its FCD statistics are computed once and cached).

Usage: python scripts/benchmark_latent_sources.py [--model default] [--data data/zinc.csv] [--n 10000]
       [--temperature 0.7] [--widen 1.0,1.1 --exemplars 10000] [--flow-widen 0.9,1.0] [--mixture-widen 0.9,1.0]
       [--temperatures 0.7,0.8]
       [--reference NAME=PATH] [--train FILE] [--only-priors] [--json OUT]
Needs the MOSES splits (python scripts/fetch_zinc.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from molvae.api import MolVAE
from molvae.evaluation.evaluate import evaluate_samples, load_reference, load_training_set
from molvae.model.flow import FlowPrior
from molvae.model.prior import MixturePrior, exemplar_mixture
from molvae.smiles.corpus import load_corpus, remap_to_vocab
from molvae.training.batching import split_indices
from molvae.training.prior_fit import posterior_moments

KEYS = ("valid", "FCD/{ref}", "SNN/{ref}", "Scaf/{ref}", "IntDiv", "Filters", "Novelty")


def training_posteriors(vae: MolVAE, data: Path, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and variances (n, Z) of n molecules of ``data``'s training split (as the model split it),
    drawn by seed."""
    corpus = load_corpus(data, vae.config.data.smiles_column, vae.config.data.max_length, kekule=vae.config.data.kekule)
    train_idx, _ = split_indices(len(corpus.smiles), vae.config.data.val_fraction, vae.config.train.seed)
    rows = np.sort(np.random.default_rng(seed).choice(train_idx, min(n, len(train_idx)), replace=False))
    return posterior_moments(vae, remap_to_vocab(corpus, vae.vocab)[rows], corpus.lengths[rows])


def latent_sources(vae: MolVAE, data: Path, n: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """n latent points (n, Z) per source: N(0, I), the fitted mixture (if any), posterior draws and means of n
    training molecules of ``data`` (its training split, drawn by seed)."""
    generator = torch.Generator().manual_seed(seed)
    mu, variance = training_posteriors(vae, data, n, seed)
    sources = {"N(0, I)": torch.randn(n, vae.latent_dim, generator=generator)}
    mixture = MixturePrior.from_tensors(vae.checkpoint.extra_tensors)
    if mixture is not None:
        sources[f"fitted mixture ({mixture.n_components})"] = mixture.sample(n, generator)
    sources["posterior draws of training molecules"] = mu + variance.sqrt() * torch.randn(mu.shape, generator=generator)
    sources["posterior means of training molecules"] = mu
    return sources


def exemplar_sources(vae: MolVAE, data: Path, n: int, k: int, widens: list[float],
                     seed: int = 1) -> dict[str, torch.Tensor]:
    """n latent points (n, Z) per widen factor from the exemplar prior of k training molecules of ``data``."""
    generator = torch.Generator().manual_seed(seed)
    mu, variance = training_posteriors(vae, data, k, seed)
    return {f"exemplar prior ({len(mu)}, widen {s:g})": exemplar_mixture(mu, variance, k, s).sample(n, generator)
            for s in widens}


def flow_sources(vae: MolVAE, n: int, widens: list[float], seed: int = 1) -> dict[str, torch.Tensor]:
    """n latent points (n, Z) per widen factor from the model's flow prior."""
    flow = FlowPrior.from_checkpoint(vae.checkpoint.extra_tensors, vae.checkpoint.extra)
    if flow is None:
        raise SystemExit(f"{vae.source} has no flow prior: molvae fit-prior DATA --method flow --model ... first")
    return {f"flow prior (widen {s:g})": flow.sample(n, torch.Generator().manual_seed(seed), widen=s) for s in widens}


def mixture_sources(vae: MolVAE, n: int, widens: list[float], seed: int = 1) -> dict[str, torch.Tensor]:
    """n latent points (n, Z) per widen factor from the model's fitted mixture, every standard deviation times it."""
    mixture = MixturePrior.from_tensors(vae.checkpoint.extra_tensors)
    if mixture is None:
        raise SystemExit(f"{vae.source} has no fitted mixture: molvae fit-prior DATA --method em --model ... first")
    return {f"fitted mixture ({mixture.n_components}, widen {s:g})":
            mixture.widened(s).sample(n, torch.Generator().manual_seed(seed)) for s in widens}


def named_path(text: str) -> tuple[str, Path]:
    name, _, path = text.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH")
    return name, Path(path)


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=Path("data/zinc.csv"), help="the model's training file")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--moses", type=Path, default=Path("data/moses"))
    parser.add_argument("--widen", type=floats, default=[], help="exemplar priors with these widen factors")
    parser.add_argument("--exemplars", type=int, default=10_000, help="training molecules of each exemplar prior")
    parser.add_argument("--temperatures", type=floats, default=None, help="for the exemplar priors (default:"
                        " --temperature)")
    parser.add_argument("--flow-widen", type=floats, default=[], help="the model's flow prior at these widen factors")
    parser.add_argument("--mixture-widen", type=floats, default=[],
                        help="the model's fitted mixture (molvae fit-prior --method em) at these widen factors")
    parser.add_argument("--only-priors", "--only-exemplars", dest="only_priors", action="store_true",
                        help="skip the four fixed sources")
    parser.add_argument("--reference", type=named_path, default=None,
                        help="NAME=PATH of the reference set (default Test=MOSES/test.csv.gz)")
    parser.add_argument("--train", type=Path, default=None,
                        help="novelty against this file (default: MOSES/train.csv.gz)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    vae = MolVAE.load(args.model)
    ref_name, ref_path = args.reference or ("Test", args.moses / "test.csv.gz")
    reference = load_reference(ref_name, ref_path)
    train = load_training_set(args.train or args.moses / "train.csv.gz")
    runs = [] if args.only_priors else [(name, z, args.temperature)
                                        for name, z in latent_sources(vae, args.data, args.n).items()]
    priors = {}
    if args.widen:
        priors.update(exemplar_sources(vae, args.data, args.n, args.exemplars, args.widen))
    if args.flow_widen:
        priors.update(flow_sources(vae, args.n, args.flow_widen))
    if args.mixture_widen:
        priors.update(mixture_sources(vae, args.n, args.mixture_widen))
    runs += [(f"{name}, T {t:g}", z, t) for name, z in priors.items() for t in (args.temperatures or [args.temperature])]
    keys = [k.format(ref=ref_name) for k in KEYS]
    rows = {}
    for name, z, temperature in runs:
        smiles = vae.decode(z, temperature=temperature, seed=3)
        metrics = evaluate_samples([s or "" for s in smiles], [reference], train=train).metrics
        rows[name] = {k: round(float(metrics[k]), 4) for k in keys if k in metrics}
        print(f"{name:<48}" + "  ".join(f"{k} {v}" for k, v in rows[name].items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "n": args.n, "temperature": args.temperature,
                                         "reference": [ref_name, str(ref_path)], "sources": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
