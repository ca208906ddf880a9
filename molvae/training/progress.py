"""What a training run shows while it goes: training rows of metrics.csv (loss terms averaged over a window of
steps and over ranks) and the progress bar with the last validation figures."""

from __future__ import annotations

import sys
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from molvae.training.distributed import mean_over_ranks
from molvae.training.run import Run
from molvae.training.validation import collapse_warning


class Window:
    """Loss terms summed over the steps since the last training row of metrics.csv."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.n, self.molecules, self.t0 = 0, 0, time.perf_counter()

    def add(self, terms: dict[str, torch.Tensor], keys: tuple[str, ...], n_molecules: int) -> None:
        for key in keys:
            self.sums[key] = self.sums.get(key, 0.0) + float(terms[key].detach())
        self.n += 1
        self.molecules += n_molecules


def log_training(run: Run, window: Window, terms: dict[str, torch.Tensor], bar: tqdm) -> Window:
    """Every ``log_every`` steps: the window's means (over ranks) as a training row; returns the window to go on
    with (a fresh one after a row)."""
    if run.state["step"] % run.config.train.log_every != 0:
        return window
    seconds = time.perf_counter() - window.t0
    means = mean_over_ranks(run.ctx, {k: window.sums[k] / window.n for k in run.logged})
    row: dict[str, Any] = {k: round(v, 5) for k, v in means.items()}
    beta = float(terms["beta"])
    row.update(step=run.state["step"], epoch=run.state["epoch"], split="train", beta=round(beta, 6),
               lr=round(float(terms["lr"]), 8), elapsed_s=round(run.state["elapsed_s"], 2),
               molecules_per_s=round(window.molecules * run.ctx.world_size / seconds, 1))
    if run.ctx.is_main:
        run.log.add(row)
        run.log.flush()
    bar.set_postfix(loss=row["loss"], rec=row["reconstruction"], kl=row["kl"], beta=round(beta, 4),
                    acc=row["token_accuracy"])
    return Window()


class Progress:
    """The progress bar, and the validation figures: shown on it, warned about (posterior collapse, once) and kept
    with the step they were taken at."""

    def __init__(self, run: Run, progress: bool) -> None:
        self.bar = tqdm(total=run.total, initial=run.state["step"], disable=not (progress and run.ctx.is_main),
                        desc="train", unit="step", leave=True, dynamic_ncols=True)
        self.collapse_shown = False
        self.last_validation: dict[str, float] = {}
        self.validated_at = -1

    def validated(self, run: Run, result: dict[str, float]) -> None:
        self.last_validation, self.validated_at = result, run.state["step"]
        warning = collapse_warning(result, run.state["step"], run.config)
        if warning and not self.collapse_shown and not self.bar.disable:  # the result repeats it at the end
            self.collapse_shown = True
            self.bar.write(f"warning: {warning}", file=sys.stderr)
        if result:
            self.bar.set_postfix(val_loss=round(result["loss"], 3), rec_rate=round(result["reconstruction_rate"], 3),
                                 valid=round(result["prior_validity"], 3))
