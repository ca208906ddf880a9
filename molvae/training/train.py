"""``fit``: the training loop of the VAE, with validation, metrics, checkpoints and exact resume.

A run folder holds ``config.toml``, ``versions.json``, ``metrics.csv``, ``rejected.csv``, ``last.safetensors``
(with optimizer and RNG state, for ``--resume``), ``best.safetensors`` (lowest validation loss) and
``loss_curve.png``. The validation loss is always taken at the final KL weight (``kl_weight``; its ``beta`` column
says so), so checkpoints from the KL warm-up, when the loss weighs the KL less, do not win "best" by that alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from molvae.config import Config, load_config, parse_duration, to_toml
from molvae.device import autocast
from molvae.errors import ConfigError, DataError, TrainingError
from molvae.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, versions
from molvae.model.properties import standardization
from molvae.model.sampling import aggregate_posterior
from molvae.model.vae import VAE, property_loss, vae_loss
from molvae.outputs import atomic_write
from molvae.smiles.corpus import Corpus, load_corpus, read_properties, write_rejected_report
from molvae.smiles.tokenizer import Vocabulary
from molvae.training.batching import bucket_batches, collate, iter_batches, split_indices
from molvae.training.distributed import any_true, barrier, init_from_env, main_first, mean_over_ranks, shutdown
from molvae.training.schedules import kl_weight_at, lr_at
from molvae.training.validation import collapse_warning, validate

METRIC_COLUMNS = [
    "step", "epoch", "split", "loss", "reconstruction", "kl", "beta", "lr", "token_accuracy",
    "reconstruction_rate", "prior_validity", "active_units", "property_loss", "molecules_per_s", "elapsed_s",
]
RESUMABLE = {"epochs", "max_steps", "max_time", "device", "threads", "val_every", "log_every"}


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val_loss: float
    last_validation: dict[str, float]
    stopped_by: str  # epochs | max_steps | max_time | interrupt
    model: VAE  # the trained model (on its training device)
    rank: int = 0  # this process's rank under torchrun (0 alone)
    warnings: list[str] = field(default_factory=list)  # e.g. posterior collapse, for the user to read


def default_run_dir(data: Path) -> Path:
    return Path("runs") / f"{data.name.split('.')[0]}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def resume_config(run_dir: str | Path, overrides: dict[str, Any]) -> Config:
    """The config of a run to resume, with stopping and hardware settings (only) overridden."""
    run_dir = Path(run_dir)
    if not (run_dir / "last.safetensors").exists() and (run_dir / "config.toml").exists():
        config = load_config(run_dir / "config.toml")  # killed before its first checkpoint: it starts again
    else:
        config = load_checkpoint(run_dir / "last.safetensors").config
    bad = sorted(k for k, v in overrides.items() if v is not None and k not in RESUMABLE)
    if bad:
        raise ConfigError(f"--resume keeps the run's settings; {bad} cannot change (these can: {sorted(RESUMABLE)})")
    return config.with_overrides(overrides)


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files (``.NAME.PID.tmp``) a killed process left in a run folder; returns them."""
    stale = [p for p in run_dir.glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def remap_to_vocab(corpus: Corpus, vocab: Vocabulary) -> np.ndarray:
    """The corpus token ids (N, T) renumbered into ``vocab``; an error names tokens that ``vocab`` lacks."""
    missing = [t for t in corpus.vocab.tokens if t not in vocab.index]
    if missing:
        raise DataError(f"{corpus.path} has tokens the model's vocabulary lacks: {missing}")
    table = np.array([vocab.index[t] for t in corpus.vocab.tokens], dtype=np.int16)
    return table[corpus.ids]


class MetricsLog:
    """metrics.csv, rewritten atomically at every flush so a killed run never leaves half a row."""

    def __init__(self, path: Path, after_step: int | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if after_step is not None and path.exists():
            with open(path, newline="") as handle:
                self.rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= after_step]

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append({k: row.get(k, "") for k in METRIC_COLUMNS})

    def flush(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, buffer.getvalue().encode())


class _StopFlag:
    """Ctrl-C (SIGINT) sets a flag; the loop stops after the current step and writes a checkpoint."""

    def __init__(self) -> None:
        self.stop = False
        self.previous = None

    def __enter__(self) -> _StopFlag:
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.stop:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def fit(
    data: str | Path,
    config: Config,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a VAE on a SMILES file into a run folder (new, or ``resume``'s); returns where it stopped.

    Under torchrun every process calls this: batches are sharded (``batch_size`` is per process), gradients are
    averaged by DistributedDataParallel, logged figures are averaged over ranks, and only rank 0 validates and
    writes files.
    """
    cfg = config.train
    ctx, device = init_from_env(cfg.device)
    max_time = parse_duration(cfg.max_time)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    data = Path(data)

    checkpoint: Checkpoint | None = None
    if resume is not None:
        run_dir = Path(resume)
        if ctx.is_main:
            remove_stale_temporaries(run_dir)
        if (run_dir / "last.safetensors").exists() or not (run_dir / "config.toml").exists():
            checkpoint = load_checkpoint(run_dir / "last.safetensors")
    else:
        run_dir = Path(out) if out is not None else default_run_dir(data)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"run folder {run_dir} exists and is not empty; choose another --out or --resume it")
    barrier(ctx)  # every rank has checked the folder before rank 0 creates it

    # rank 0 parses the file and fills the token-id cache; the other ranks then read the cache
    corpus = main_first(ctx, lambda: load_corpus(data, config.data.smiles_column, config.data.max_length,
                                                 config.data.strict, kekule=config.data.kekule))
    vocab = checkpoint.vocab if checkpoint else corpus.vocab
    ids = remap_to_vocab(corpus, vocab) if checkpoint else corpus.ids
    train_idx, val_idx = split_indices(len(corpus.smiles), config.data.val_fraction, cfg.seed)
    train_lengths = corpus.lengths[train_idx]
    val_ids, val_lengths = ids[val_idx], corpus.lengths[val_idx]
    val_smiles = [corpus.smiles[i] for i in val_idx]

    names = config.data.property_list
    targets = read_properties(data, names, corpus.lines) if names else None  # (N, P), data units
    torch.manual_seed(cfg.seed)
    model = VAE(config.model, len(vocab), vocab.pad_id, len(names))
    if targets is not None and model.property_head is not None:
        mean, std = standardization(targets[train_idx])
        model.property_head.mean.copy_(torch.from_numpy(mean))
        model.property_head.std.copy_(torch.from_numpy(std))
        targets = (targets - mean) / std  # standardized; NaN stays NaN (unknown)
    if checkpoint:
        model.load_state_dict(checkpoint.model_state)
    model.to(device).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    state: dict[str, Any] = {"step": 0, "epoch": 0, "batch": 0, "best_val_loss": math.inf, "elapsed_s": 0.0,
                             "world_size": ctx.world_size}
    if checkpoint:
        if checkpoint.optimizer_state is None or checkpoint.rng_state is None:
            raise ConfigError(f"{run_dir}/last.safetensors holds no optimizer state; it cannot be resumed")
        optimizer.load_state_dict(checkpoint.optimizer_state)
        torch.set_rng_state(checkpoint.rng_state)
        state.update(checkpoint.train_state)
        written_by = state.get("world_size", 1)
        if written_by != ctx.world_size:  # the global batch changed size: keep the position in the epoch
            state["batch"] = state["batch"] * written_by // ctx.world_size
            state["world_size"] = ctx.world_size
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / "config.toml", to_toml(config).encode())
        atomic_write(run_dir / "versions.json", json.dumps(versions(), indent=2).encode())
    if ctx.enabled:  # each rank its own noise (word dropout, eps), reproducible for a given world size
        torch.manual_seed(cfg.seed + 7919 * ctx.rank + state["step"])
    if ctx.is_main:
        write_rejected_report(corpus.rejected, run_dir / "rejected.csv")
    state["data"] = {"path": str(data.resolve()), "sha256": corpus.sha256, "n_molecules": len(corpus.smiles),
                     "n_train": len(train_idx), "n_val": len(val_idx)}
    trainer = DistributedDataParallel(model) if ctx.enabled else model

    log = MetricsLog(run_dir / "metrics.csv", after_step=state["step"] if checkpoint else None)
    n_per_epoch = len(bucket_batches(train_lengths, cfg.batch_size, cfg.seed, 0, ctx.rank, ctx.world_size))
    total = cfg.epochs * n_per_epoch
    if cfg.max_steps:
        total = min(total, cfg.max_steps)

    def save(names: tuple[str, ...]) -> None:
        rows = train_idx[: cfg.n_aggregate]  # the aggregate posterior, for sampling where the data are
        mean, cov = aggregate_posterior(model, iter_batches(ids[rows], corpus.lengths[rows], cfg.batch_size))
        for name in names:  # 'best' holds no optimizer state: it is for use, 'last' is for --resume
            save_checkpoint(run_dir / f"{name}.safetensors", model, vocab, config, state,
                            optimizer if name == "last" else None,
                            extra_tensors={"aggregate_mean": mean, "aggregate_cov": cov})

    def run_validation() -> dict[str, float]:
        result: dict[str, float] = {}
        if ctx.is_main:
            beta = cfg.kl_weight  # the final weight: validations during the KL warm-up compare fairly with later ones
            result = validate(model, vocab, val_ids, val_lengths, val_smiles, config, beta, device,
                              targets[val_idx] if targets is not None else None)
            if "property_errors" in result:
                state["property_errors"] = result["property_errors"]
            row = {**result, "step": state["step"], "epoch": state["epoch"], "split": "val", "beta": beta,
                   "elapsed_s": round(state["elapsed_s"], 2)}
            log.add({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
            log.flush()
            improved = result["loss"] < state["best_val_loss"]
            if improved:
                state["best_val_loss"] = result["loss"]
            save(("best", "last") if improved else ("last",))
        barrier(ctx)
        return result

    started = time.monotonic()
    elapsed_before = state["elapsed_s"]
    window: dict[str, float] = {"n": 0, "molecules": 0, "t0": time.perf_counter()}
    last_validation: dict[str, float] = {}
    validated_at = -1
    collapse_shown = False  # the first collapse warning of this invocation is printed as soon as it is seen
    stopped_by = "epochs"
    bar = tqdm(total=total, initial=state["step"], disable=not (progress and ctx.is_main), desc="train", unit="step",
               leave=True, dynamic_ncols=True)
    with _StopFlag() as flag:
        while state["epoch"] < cfg.epochs and stopped_by == "epochs":
            batches = bucket_batches(train_lengths, cfg.batch_size, cfg.seed, state["epoch"], ctx.rank, ctx.world_size)
            while state["batch"] < len(batches):
                rows = train_idx[batches[state["batch"]]]
                batch_ids, batch_lengths = (t.to(device) for t in collate(ids, corpus.lengths, rows))
                step = state["step"]
                beta, lr = kl_weight_at(step, cfg), lr_at(step, total, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with autocast(device, cfg.precision):
                    out = trainer(batch_ids, batch_lengths, word_dropout=cfg.word_dropout)
                terms = vae_loss(out["logits"], out["targets"], out["mu"], out["logvar"], beta, cfg.free_bits,
                                 vocab.pad_id)
                if targets is not None:
                    terms["property_loss"] = property_loss(out["properties"].float(),
                                                           torch.from_numpy(targets[rows]).to(device))
                    terms["loss"] = terms["loss"] + cfg.property_weight * terms["property_loss"]
                # one collective a step settles what every rank must agree on
                not_finite, out_of_time, interrupted = any_true(ctx, [
                    not bool(torch.isfinite(terms["loss"])),
                    max_time is not None and time.monotonic() - started >= max_time,
                    flag.stop,
                ])
                if not_finite:
                    raise TrainingError(
                        f"the loss became {float(terms['loss'].detach())} at step {step + 1}; stopped. The last good "
                        f"checkpoint is {run_dir / 'last.safetensors'} (try a lower lr or clip_grad)"
                    )
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                if cfg.clip_grad > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                optimizer.step()
                state["step"] += 1
                state["batch"] += 1
                state["elapsed_s"] = elapsed_before + time.monotonic() - started
                logged = ("loss", "reconstruction", "kl", "token_accuracy") + (("property_loss",) if targets is not None
                                                                                else ())
                for key in logged:
                    window[key] = window.get(key, 0.0) + float(terms[key].detach())
                window["n"] += 1
                window["molecules"] += len(rows)
                bar.update(1)
                if state["step"] % cfg.log_every == 0:
                    seconds = time.perf_counter() - window["t0"]
                    means = mean_over_ranks(ctx, {k: window[k] / window["n"] for k in logged})
                    row = {k: round(v, 5) for k, v in means.items()}
                    row.update(step=state["step"], epoch=state["epoch"], split="train", beta=round(beta, 6),
                               lr=round(lr, 8), elapsed_s=round(state["elapsed_s"], 2),
                               molecules_per_s=round(window["molecules"] * ctx.world_size / seconds, 1))
                    if ctx.is_main:
                        log.add(row)
                        log.flush()
                    bar.set_postfix(loss=row["loss"], rec=row["reconstruction"], kl=row["kl"], beta=round(beta, 4),
                                    acc=row["token_accuracy"])
                    window = {"n": 0, "molecules": 0, "t0": time.perf_counter()}
                if state["batch"] == len(batches):
                    state["epoch"], state["batch"] = state["epoch"] + 1, 0
                if cfg.max_steps and state["step"] >= cfg.max_steps:
                    stopped_by = "max_steps"
                elif out_of_time:
                    stopped_by = "max_time"
                elif interrupted:
                    stopped_by = "interrupt"
                if state["step"] % cfg.val_every == 0 or (stopped_by != "epochs"):
                    last_validation = run_validation()
                    validated_at = state["step"]
                    window["t0"] = time.perf_counter()
                    warning = collapse_warning(last_validation, state["step"], config)
                    if warning and not collapse_shown and not bar.disable:  # the result repeats it at the end
                        collapse_shown = True
                        bar.write(f"warning: {warning}", file=sys.stderr)
                    if last_validation:
                        bar.set_postfix(val_loss=round(last_validation["loss"], 3),
                                        rec_rate=round(last_validation["reconstruction_rate"], 3),
                                        valid=round(last_validation["prior_validity"], 3))
                if stopped_by != "epochs" or state["batch"] == 0:
                    break
    bar.close()
    if validated_at != state["step"]:
        last_validation = run_validation()
    final = collapse_warning(last_validation, state["step"], config)
    if ctx.is_main:
        from molvae.training.plots import plot_loss_curve

        plot_loss_curve(run_dir / "metrics.csv", run_dir / "loss_curve.png")
    shutdown(ctx)
    return TrainResult(run_dir, state["step"], state["epoch"], state["best_val_loss"], last_validation, stopped_by,
                       model, ctx.rank, [final] if final else [])
