"""The run folder of a training run: its name, taking it (the lock, an empty folder for a new run, a killed
process's temporaries cleared on resume), the config of a resumed run, and ``metrics.csv``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from molvae.config import Config, load_config
from molvae.errors import ConfigError
from molvae.model.checkpoint import Checkpoint, load_checkpoint
from molvae.outputs import atomic_write
from molvae.training.distributed import barrier, on_main
from molvae.training.lock import LOCK_NAME, RunLock

METRIC_COLUMNS = [
    "step", "epoch", "split", "loss", "reconstruction", "kl", "beta", "lr", "token_accuracy",
    "reconstruction_rate", "prior_validity", "active_units", "property_loss", "molecules_per_s", "elapsed_s",
]


RESUMABLE = {"epochs", "max_steps", "max_time", "device", "threads", "val_every", "log_every"}


def default_run_dir(data: Path) -> Path:
    return Path("runs") / f"{data.name.split('.')[0]}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def resume_config(run_dir: str | Path, overrides: dict[str, Any]) -> Config:
    """The config of a run to resume, with stopping and hardware settings (only) overridden."""
    run_dir = Path(run_dir)
    if not (run_dir / "last.safetensors").exists() and (run_dir / "config.toml").exists():
        config = load_config(run_dir / "config.toml")  # killed before its first checkpoint: it starts again
    else:
        config = load_checkpoint(run_dir / "last.safetensors").config
    stored = {k: v for section in config.to_dict().values() for k, v in section.items()}
    bad = sorted(k for k, v in overrides.items()
                 if v is not None and k not in RESUMABLE and stored.get(k, v) != v)  # the same value is no change
    if bad:
        raise ConfigError(f"--resume keeps the run's settings; {bad} cannot change (these can: {sorted(RESUMABLE)})")
    return config.with_overrides(overrides)


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files (``.NAME.PID.tmp``) a killed process left in a run folder; returns them."""
    stale = [p for p in run_dir.glob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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


def _check_empty(run_dir: Path) -> None:
    if run_dir.exists() and any(p.name != LOCK_NAME for p in run_dir.iterdir()):
        raise ConfigError(f"run folder {run_dir} exists and is not empty; choose another --out or --resume it")


def _take_run_dir(run_dir: Path, new: bool) -> RunLock:
    """Rank 0's hold on the run folder: the lock first (so a live trainer's files are never touched), then a new
    run's folder must be empty, or a resumed one is cleared of a killed process's temporaries."""
    if new:
        _check_empty(run_dir)  # before creating anything
    elif not run_dir.is_dir():
        raise ConfigError(f"--resume {run_dir}: no such run folder")
    lock = RunLock(run_dir).acquire()
    try:
        if new:
            _check_empty(run_dir)  # another trainer may have started it meanwhile
        else:
            remove_stale_temporaries(run_dir)
    except BaseException:
        lock.release()
        raise
    return lock


def _open_run_dir(ctx: Any, data: Path, out: str | Path | None, resume: str | Path | None
                  ) -> tuple[Path, Checkpoint | None, RunLock | None]:
    """The run folder (new, or ``resume``'s), locked by rank 0, and its checkpoint."""
    run_dir = Path(resume) if resume is not None else Path(out) if out is not None else default_run_dir(data)
    lock = on_main(ctx, lambda: _take_run_dir(run_dir, resume is None))
    checkpoint: Checkpoint | None = None
    try:
        if resume is not None and ((run_dir / "last.safetensors").exists() or not (run_dir / "config.toml").exists()):
            checkpoint = load_checkpoint(run_dir / "last.safetensors")
        barrier(ctx)  # every rank has checked the folder before rank 0 writes into it
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return run_dir, checkpoint, lock
