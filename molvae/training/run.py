"""``Run``: everything one training invocation works with (built by ``training.train.set_up``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.config import Config
from molvae.model.vae import VAE
from molvae.smiles.corpus import Corpus
from molvae.smiles.tokenizer import Vocabulary
from molvae.training.lock import RunLock
from molvae.training.run_folder import MetricsLog


@dataclass
class Run:
    """Everything one training invocation works with, built by ``set_up`` and advanced by ``train_step``."""

    config: Config
    ctx: Any  # distributed.Context: rank, world size, is_main
    device: torch.device
    run_dir: Path
    data: Path
    corpus: Corpus
    vocab: Vocabulary
    ids: np.ndarray  # (N, T) token ids in ``vocab``'s numbering
    train_idx: np.ndarray
    val_idx: np.ndarray
    targets: np.ndarray | None  # (N, P) standardized property values, NaN where unknown
    model: VAE
    trainer: torch.nn.Module  # the model, wrapped in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    state: dict[str, Any]  # step, epoch, batch, best_val_loss, elapsed_s, world_size, data: saved in checkpoints
    log: MetricsLog
    total: int  # steps this run will take in all (epochs or max_steps)
    max_time: float | None
    resumed: bool
    lock: RunLock | None = None  # rank 0's hold on the run folder
    saved_step: int = -1  # the step of the last checkpoint written (or resumed from)

    @property
    def logged(self) -> tuple[str, ...]:
        """The loss terms averaged into each training row of metrics.csv."""
        return ("loss", "reconstruction", "kl", "token_accuracy") + (("property_loss",) if self.targets is not None
                                                                      else ())
