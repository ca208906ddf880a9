"""Pilot J of issue #36 (a prototype, not the training loop): continue a trained VAE with a flow prior learned
jointly in the ELBO, on data/moses/fresh_train.csv (the v7 run's data and validation split).

loss = reconstruction + beta * max(KL_mc, floor) + the flow's NLL of the detached codes, where
KL_mc = mean over the batch of log q(z|x) - log p_flow(z) at the sampled z (B, Z). The flow starts fitted to the
codes of 30,000 training molecules. Every ``--every`` steps: greedy reconstruction of 500 held-out molecules and the
validity of 500 flow samples at T 0.7 (OUT/log.csv: step, reconstruction, KL_mc, KL to N(0, I), flow NLL[, recon,
validity]), and OUT/last.safetensors (weights and the flow as the sampling source; no optimizer state).
Sample it with ``scripts/benchmark_latent_sources.py --model OUT/last.safetensors --only-priors --flow-widen 1.0``.

Usage: python scripts/pilot_joint_prior.py runs/v7-fb12/best.safetensors runs/v7-j --steps 10000 --floor 51
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from molvae.api import MolVAE
from molvae.device import autocast
from molvae.model.checkpoint import save_checkpoint
from molvae.model.flow import FlowPrior, FlowSpec
from molvae.smiles.corpus import load_corpus, remap_to_vocab
from molvae.training.batching import collate, split_indices
from molvae.training.flow_fit import FlowFit, fit_flow
from molvae.training.prior_fit import encoder_moments

DATA = "data/moses/fresh_train.csv"


def joint_loss(vae: MolVAE, prior: FlowPrior, ids: torch.Tensor, lengths: torch.Tensor, beta: float,
               floor: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The pilot's loss on a batch of ids (B, T) and what to log."""
    with autocast(vae.device, "bf16"):
        out = vae.model(ids, lengths)
    logits = out["logits"].float()
    reconstruction = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                       out["targets"].reshape(-1), ignore_index=vae.vocab.pad_id,
                                                       reduction="sum") / len(ids)
    mu, logvar, z = out["mu"].float(), out["logvar"].float(), out["z"].float()
    log_q = (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp())).sum(dim=1)  # (B,)
    kl_mc = (log_q - prior.log_prob(z)).mean()
    prior_nll = -prior.log_prob(z.detach()).mean()
    kl_n01 = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()
    loss = reconstruction + beta * kl_mc.clamp(min=floor) + prior_nll
    return loss, {"rec": float(reconstruction), "kl_mc": float(kl_mc), "kl_n01": float(kl_n01),
                  "prior_nll": float(prior_nll)}


@torch.no_grad()
def evaluate(vae: MolVAE, prior: FlowPrior, ids: np.ndarray, lengths: np.ndarray, smiles: list[str],
             rows: np.ndarray) -> tuple[float, float]:
    """(greedy reconstruction of the molecules ``rows``, validity of 500 flow samples at T 0.7)."""
    vae.model.eval()
    prior.eval()
    z = vae.model.encode(*collate(ids, lengths, rows))[0]
    recon = float(np.mean([s == smiles[r] for s, r in zip(vae.decode(z), rows)]))
    samples = vae.decode(prior.sample(500, torch.Generator().manual_seed(1)), temperature=0.7, seed=3)
    vae.model.train()
    prior.train()
    return recon, float(np.mean([s is not None for s in samples]))


def save(vae: MolVAE, prior: FlowPrior, path: Path, step: int) -> None:
    """Weights and the flow as the sampling source (it replaces the checkpoint's own flow)."""
    extra, tensors = dict(vae.checkpoint.extra), dict(vae.checkpoint.extra_tensors)
    prior.eval()
    prior.store(extra, tensors)
    prior.train()
    save_checkpoint(path, vae.model, vae.vocab, vae.config, {"step": step}, None, extra=extra, extra_tensors=tensors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--floor", type=float, default=51.0, help="KL floor, nats per molecule")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--prior-lr", type=float, default=1e-3)
    parser.add_argument("--every", type=int, default=2000)
    parser.add_argument("--warm-epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    vae = MolVAE.load(args.model)
    corpus = load_corpus(DATA, vae.config.data.smiles_column, vae.config.data.max_length, kekule=vae.config.data.kekule)
    ids = remap_to_vocab(corpus, vae.vocab)
    train_idx, val_idx = split_indices(len(corpus.smiles), 0.004, 0)  # the v7 run's split
    rng = np.random.default_rng(7)
    warm = np.sort(rng.choice(train_idx, 30_000, replace=False))
    mu, variance = encoder_moments(vae.model, ids[warm], corpus.lengths[warm], vae.device)
    prior, _ = fit_flow(mu, variance, FlowSpec(mu.shape[1], n_transforms=4, hidden=128),
                        FlowFit(epochs=args.warm_epochs), progress=False)
    prior.train()
    vae.model.train()
    optimizer = torch.optim.Adam([{"params": [p for p in vae.model.parameters() if p.requires_grad], "lr": args.lr},
                                  {"params": prior.parameters(), "lr": args.prior_lr}])
    started = time.time()
    with open(args.out / "log.csv", "a") as log:
        for step in range(1, args.steps + 1):
            scale = max(0.05, 0.5 * (1 + math.cos(math.pi * step / args.steps)))
            optimizer.param_groups[0]["lr"], optimizer.param_groups[1]["lr"] = args.lr * scale, args.prior_lr * scale
            loss, terms = joint_loss(vae, prior, *collate(ids, corpus.lengths, rng.choice(train_idx, 64, replace=False)),
                                     args.beta, args.floor)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.model.parameters(), 50.0)
            torch.nn.utils.clip_grad_norm_(prior.parameters(), 10.0)
            optimizer.step()
            if step % 100 == 0:
                line = f"{step}," + ",".join(f"{v:.4f}" for v in terms.values())
                if step % args.every == 0 or step == args.steps:
                    line += ",{:.3f},{:.3f}".format(*evaluate(vae, prior, ids, corpus.lengths, corpus.smiles,
                                                               val_idx[:500]))
                    save(vae, prior, args.out / "last.safetensors", step)
                    print(line, f"{time.time() - started:.0f}s", flush=True)
                log.write(line + "\n")
                log.flush()


if __name__ == "__main__":
    main()
