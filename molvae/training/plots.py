"""Figures written by training: the loss curve of a run."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from molvae.outputs import atomic_write


def plot_loss_curve(metrics_csv: Path, target: Path) -> Path | None:
    """PNG of reconstruction, KL (train and validation) and validation quality against step; None if no rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.read_csv(metrics_csv)
    if frame.empty:
        return None
    train, val = frame[frame.split == "train"], frame[frame.split == "val"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name, ax in (("reconstruction", axes[0]), ("kl", axes[1])):
        ax.plot(train.step, train[name], label="train", lw=1)
        if not val.empty:
            ax.plot(val.step, val[name], "o-", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(f"{name} (nats / molecule)")
        ax.legend()
    if not val.empty:
        for name in ("reconstruction_rate", "prior_validity"):
            axes[2].plot(val.step, val[name], "o-", label=name)
        axes[2].set_ylim(0, 1)
        axes[2].set_xlabel("step")
        axes[2].legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    atomic_write(target, buffer.getvalue())
    return target
