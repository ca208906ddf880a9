"""``fit``: the training loop of the VAE, with validation, metrics, checkpoints and exact resume.

A run folder holds ``config.toml``, ``versions.json``, ``metrics.csv``, ``rejected.csv``, ``last.safetensors``
(with optimizer and RNG state, for ``--resume``), ``best.safetensors`` (lowest validation loss) and
``loss_curve.png``. The validation loss is always taken at the final KL weight (``kl_weight``; its ``beta`` column
says so), so checkpoints from the KL warm-up, when the loss weighs the KL less, do not win "best" by that alone.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from molvae.config import Config, parse_duration, to_toml
from molvae.device import autocast
from molvae.errors import ConfigError, OutputError, TrainingError, describe_os_error
from molvae.model.checkpoint import Checkpoint, save_checkpoint, versions
from molvae.model.properties import standardization
from molvae.model.sampling import aggregate_posterior
from molvae.model.vae import VAE, property_loss, vae_loss
from molvae.outputs import atomic_write
from molvae.smiles.corpus import load_corpus, remap_to_vocab, write_rejected_report
from molvae.smiles.files import read_properties
from molvae.smiles.tokenizer import Vocabulary
from molvae.training.augment import randomized_batch, step_seed
from molvae.training.batching import bucket_batches, collate, iter_batches, split_indices
from molvae.training.distributed import (
    any_true,
    barrier,
    init_from_env,
    main_first,
    shutdown,
)
from molvae.training.finetune import adopt, extended_vocabulary, freeze_encoder, load_initial_weights
from molvae.training.lock import RunLock
from molvae.training.plots import plot_loss_curve
from molvae.training.progress import Progress, Window, log_training
from molvae.training.run import Run
from molvae.training.run_folder import METRIC_COLUMNS, MetricsLog, _open_run_dir, resume_config  # noqa: F401
from molvae.training.run_prior import attach_flow_prior
from molvae.training.schedules import kl_weight_at, lr_at
from molvae.training.stop import StopFlag
from molvae.training.validation import collapse_warning, validate


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val_loss: float
    last_validation: dict[str, float]
    stopped_by: str  # epochs | max_steps | max_time | interrupt (Ctrl-C) | terminated (SIGTERM) | early_stopping
    model: VAE  # the trained model (on its training device)
    rank: int = 0  # this process's rank under torchrun (0 alone)
    warnings: list[str] = field(default_factory=list)  # e.g. posterior collapse, for the user to read
    notes: list[str] = field(default_factory=list)  # e.g. what fine-tuning changed about the initial model


def _build_model(config: Config, vocab: Vocabulary, targets: np.ndarray | None, train_idx: np.ndarray,
                 checkpoint: Checkpoint | None) -> tuple[VAE, np.ndarray | None]:
    """A seeded new VAE (or the checkpoint's weights) and the property targets standardized on the training part."""
    torch.manual_seed(config.train.seed)
    model = VAE(config.model, len(vocab), vocab.pad_id, len(config.data.property_list))
    if targets is not None and model.property_head is not None:
        mean, std = standardization(targets[train_idx])
        model.property_head.mean.copy_(torch.from_numpy(mean))
        model.property_head.std.copy_(torch.from_numpy(std))
        targets = (targets - mean) / std  # standardized; NaN stays NaN (unknown)
    if checkpoint:
        model.load_state_dict(checkpoint.model_state)
    return model, targets


def _initial_state(ctx: Any, run_dir: Path, config: Config, optimizer: torch.optim.Optimizer,
                   checkpoint: Checkpoint | None) -> dict[str, Any]:
    """The loop's state: restored with the optimizer and RNG from ``checkpoint``, or fresh with the run folder's
    config.toml and versions.json written."""
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
    return state


def set_up(data: str | Path, config: Config, out: str | Path | None = None,
           resume: str | Path | None = None) -> Run:
    """Open the run folder, read the data (rank 0 fills the token-id cache first), build or restore the model,
    optimizer and loop state: everything ``train_step`` needs."""
    cfg = config.train
    ctx, device = init_from_env(cfg.device)
    parse_duration(cfg.max_time)  # a bad duration fails before any work
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    data = Path(data)
    run_dir, checkpoint, lock = _open_run_dir(ctx, data, out, resume)
    try:
        return _set_up_in(ctx, device, config, data, run_dir, checkpoint, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _set_up_in(ctx: Any, device: torch.device, config: Config, data: Path, run_dir: Path,
               checkpoint: Checkpoint | None, lock: RunLock | None) -> Run:
    """``set_up`` once the run folder is held."""
    cfg = config.train
    init = None
    if cfg.init_from and checkpoint is None:  # fine-tuning: the architecture is the initial model's
        config, init = adopt(config, data)
    corpus = main_first(ctx, lambda: load_corpus(data, config.data.smiles_column, config.data.max_length,
                                                 config.data.strict, kekule=config.data.kekule,
                                                 standardize=config.data.standardize == "always"))
    vocab = checkpoint.vocab if checkpoint else extended_vocabulary(init, corpus.vocab) if init else corpus.vocab
    ids = corpus.ids if vocab is corpus.vocab else remap_to_vocab(corpus, vocab)
    train_idx, val_idx = split_indices(len(corpus.smiles), config.data.val_fraction, cfg.seed)
    names = config.data.property_list
    targets = read_properties(data, names, corpus.lines) if names else None  # (N, P), data units
    model, targets = _build_model(config, vocab, targets, train_idx, checkpoint)
    if init is not None:
        load_initial_weights(model, init, vocab)
    if cfg.freeze_encoder:
        freeze_encoder(model)
    model.to(device).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    state = _initial_state(ctx, run_dir, config, optimizer, checkpoint)
    if ctx.enabled:  # each rank its own noise (word dropout, eps), reproducible for a given world size
        torch.manual_seed(cfg.seed + 7919 * ctx.rank + state["step"])
    if ctx.is_main:
        write_rejected_report(corpus.rejected, run_dir / "rejected.csv")
    state["data"] = {"path": str(data.resolve()), "sha256": corpus.sha256, "n_molecules": len(corpus.smiles),
                     "n_train": len(train_idx), "n_val": len(val_idx)}
    if init is not None:
        state["init_from"] = init.record()
    trainer = DistributedDataParallel(model) if ctx.enabled else model
    log = MetricsLog(run_dir / "metrics.csv", after_step=state["step"] if checkpoint else None)
    n_per_epoch = len(bucket_batches(corpus.lengths[train_idx], cfg.batch_size, cfg.seed, 0, ctx.rank,
                                     ctx.world_size))
    total = min(cfg.epochs * n_per_epoch, cfg.max_steps) if cfg.max_steps else cfg.epochs * n_per_epoch
    return Run(config, ctx, device, run_dir, data, corpus, vocab, ids, train_idx, val_idx, targets, model, trainer,
               optimizer, state, log, total, parse_duration(cfg.max_time), checkpoint is not None, lock)


def save(run: Run, names: tuple[str, ...]) -> None:
    """Write the named checkpoints (``best``: weights for use; ``last``: with optimizer state, for --resume), each
    with the aggregate posterior of the first ``n_aggregate`` training molecules (for sampling where the data are)."""
    cfg = run.config.train
    rows = run.train_idx[: cfg.n_aggregate]
    mean, cov = aggregate_posterior(run.model, iter_batches(run.ids[rows], run.corpus.lengths[rows], cfg.batch_size))
    for name in names:
        save_checkpoint(run.run_dir / f"{name}.safetensors", run.model, run.vocab, run.config, run.state,
                        run.optimizer if name == "last" else None,
                        extra_tensors={"aggregate_mean": mean, "aggregate_cov": cov})
    run.saved_step = run.state["step"]


def run_validation(run: Run) -> dict[str, float]:
    """Rank 0 validates at the final KL weight, logs the row, saves ``last`` (and ``best`` when the validation loss
    improved); every rank waits for it. Returns the figures (empty on other ranks)."""
    result: dict[str, float] = {}
    if run.ctx.is_main:
        beta = run.config.train.kl_weight  # the final weight: warm-up validations compare fairly with later ones
        val_ids, val_lengths = run.ids[run.val_idx], run.corpus.lengths[run.val_idx]
        val_smiles = [run.corpus.smiles[i] for i in run.val_idx]
        result = validate(run.model, run.vocab, val_ids, val_lengths, val_smiles, run.config, beta, run.device,
                          run.targets[run.val_idx] if run.targets is not None else None)
        if "property_errors" in result:
            run.state["property_errors"] = result["property_errors"]
        row = {**result, "step": run.state["step"], "epoch": run.state["epoch"], "split": "val", "beta": beta,
               "elapsed_s": round(run.state["elapsed_s"], 2)}
        run.log.add({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
        run.log.flush()
        improved = result["loss"] < run.state["best_val_loss"]
        if improved:
            run.state["best_val_loss"] = result["loss"]
        run.state["stale_validations"] = 0 if improved else run.state.get("stale_validations", 0) + 1
        save(run, ("best", "last") if improved else ("last",))
    barrier(run.ctx)
    return result


def batch_tensors(run: Run, rows: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor, tuple | None]:
    """The decoder's ids (B, T) and lengths (B,) of the molecules ``rows`` on the run's device, and what the encoder
    reads instead (ids, lengths), or None when it reads the same: ``train.augment`` spells the molecules at random."""
    ids, lengths = collate(run.ids, run.corpus.lengths, rows)
    mode = run.config.train.augment
    if mode != "none":
        seed = step_seed(run.config.train.seed + 7919 * run.ctx.rank, step)
        spelled = randomized_batch([run.corpus.smiles[i] for i in rows], ids, lengths, run.vocab,
                                   run.config.data.kekule, seed)[:2]
        if mode == "both":
            return spelled[0].to(run.device), spelled[1].to(run.device), None
        return ids.to(run.device), lengths.to(run.device), (spelled[0].to(run.device), spelled[1].to(run.device))
    return ids.to(run.device), lengths.to(run.device), None


def train_step(run: Run, rows: np.ndarray, flag: StopFlag, started: float) -> tuple[dict[str, torch.Tensor], str]:
    """One optimizer step on the molecules ``rows``; returns the loss terms and why to stop after it ('' to go on:
    else max_steps, max_time or interrupt). Every rank agrees on the stop, and on a loss that is not finite."""
    cfg, state = run.config.train, run.state
    step = state["step"]
    batch_ids, batch_lengths, source = batch_tensors(run, rows, step)
    beta, lr = kl_weight_at(step, cfg), lr_at(step, run.total, cfg)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    with autocast(run.device, cfg.precision):
        out = run.trainer(batch_ids, batch_lengths, word_dropout=cfg.word_dropout, source=source)
    terms = vae_loss(out["logits"], out["targets"], out["mu"], out["logvar"], beta, cfg.free_bits, run.vocab.pad_id)
    if run.targets is not None:
        terms["property_loss"] = property_loss(out["properties"].float(),
                                               torch.from_numpy(run.targets[rows]).to(run.device))
        terms["loss"] = terms["loss"] + cfg.property_weight * terms["property_loss"]
    not_finite, out_of_time, interrupted = any_true(run.ctx, [  # one collective a step
        not bool(torch.isfinite(terms["loss"])),
        run.max_time is not None and time.monotonic() - started >= run.max_time,
        flag.stop,
    ])
    if not_finite:
        raise TrainingError(f"the loss became {float(terms['loss'].detach())} at step {step + 1}; stopped. The last "
                            f"good checkpoint is {run.run_dir / 'last.safetensors'} (try a lower lr or clip_grad)")
    run.optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    if cfg.clip_grad > 0:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.clip_grad)
    run.optimizer.step()
    state["step"] += 1
    state["batch"] += 1
    terms["beta"], terms["lr"] = torch.tensor(beta, dtype=torch.float64), torch.tensor(lr, dtype=torch.float64)
    stop = ("max_steps" if cfg.max_steps and state["step"] >= cfg.max_steps else
            "max_time" if out_of_time else (flag.signal or "terminated") if interrupted else "")
    return terms, stop


def _out_of_patience(run: Run) -> bool:
    """Early stopping: ``patience`` validations in a row without a lower validation loss (rank 0 decides)."""
    patience = run.config.train.patience
    stale = run.state.get("stale_validations", 0) if run.ctx.is_main else 0
    return bool(patience) and any_true(run.ctx, [stale >= patience])[0]


def train_epoch(run: Run, flag: StopFlag, progress: Progress, started: float, elapsed_before: float,
                window: Window) -> tuple[str, Window]:
    """Steps through the rest of the current epoch's batches, validating every ``val_every`` steps and when
    stopping; returns why it stopped ('' at the epoch's end) and the window of steps not yet logged."""
    cfg, state = run.config.train, run.state
    batches = bucket_batches(run.corpus.lengths[run.train_idx], cfg.batch_size, cfg.seed, state["epoch"],
                             run.ctx.rank, run.ctx.world_size)
    stop = ""
    while state["batch"] < len(batches):
        rows = run.train_idx[batches[state["batch"]]]
        terms, stop = train_step(run, rows, flag, started)
        state["elapsed_s"] = elapsed_before + time.monotonic() - started
        window.add(terms, run.logged, len(rows))
        progress.bar.update(1)
        window = log_training(run, window, terms, progress.bar)
        if state["batch"] == len(batches):
            state["epoch"], state["batch"] = state["epoch"] + 1, 0
        if state["step"] % cfg.val_every == 0 or stop:
            progress.validated(run, run_validation(run))
            window.t0 = time.perf_counter()
            if not stop and _out_of_patience(run):
                stop = "early_stopping"
        if stop or state["batch"] == 0:
            break
    return stop, window


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
    run = set_up(data, config, out, resume)
    if run.resumed:
        run.saved_step = run.state["step"]
    try:
        return _fit(run, config, progress)
    except OSError as exc:  # a full disk, a read-only folder...: one line, and what is kept
        kept = (f"last good checkpoint: {run.run_dir / 'last.safetensors'} (step {run.saved_step}); continue with "
                f"--resume {run.run_dir} once there is room" if run.saved_step >= 0 else
                f"no checkpoint was written yet (step {run.state['step']})")
        raise OutputError(f"training stopped: {describe_os_error(exc)}; {kept}") from None
    finally:
        if run.lock is not None:
            run.lock.release()


def _fit(run: Run, config: Config, progress: bool) -> TrainResult:
    """``fit``'s loop over epochs, once set up."""
    started, elapsed_before = time.monotonic(), run.state["elapsed_s"]
    bar, window = Progress(run, progress), Window()
    stopped_by = ""
    with StopFlag() as flag:
        while run.state["epoch"] < config.train.epochs and not stopped_by:
            stopped_by, window = train_epoch(run, flag, bar, started, elapsed_before, window)
    bar.bar.close()
    last_validation = bar.last_validation
    if bar.validated_at != run.state["step"]:
        last_validation = run_validation(run)
    final = collapse_warning(last_validation, run.state["step"], config)
    notes = _notes(run.state)
    if run.ctx.is_main:
        plot_loss_curve(run.run_dir / "metrics.csv", run.run_dir / "loss_curve.png")
        if config.train.prior == "flow" and stopped_by not in ("interrupt", "terminated"):
            fit = attach_flow_prior(run, progress)
            notes.append(f"flow prior fitted to the codes of {fit['n_molecules']} training molecules (held-out NLL "
                         f"{min(fit['val_nll']):.2f} nats, epoch {fit['best_epoch']}); best.safetensors samples "
                         "from it")
    shutdown(run.ctx)
    return TrainResult(run.run_dir, run.state["step"], run.state["epoch"], run.state["best_val_loss"],
                       last_validation, stopped_by or "epochs", run.model, run.ctx.rank, [final] if final else [],
                       notes)


def _notes(state: dict[str, Any]) -> list[str]:
    """What a fine-tuning run took from its initial model, for the user to read."""
    init = state.get("init_from")
    if not init:
        return []
    tokens = ", ".join(init["new_tokens"]) or "none"
    return [f"fine-tuned from {init['path']} (sha256 {init['sha256'][:12]}...); new tokens: {tokens}; property "
            f"predictor: {init['property_head']}"]
