"""``molvae train``: options -> config -> ``training.fit`` (new runs, --resume, --auto-resume, --init-from)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from molvae.cli.group import (
    _config_options,
    main,
)
from molvae.config import load_config


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML config file (default: the built-in defaults, see configs/default.toml).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder (default runs/<data-stem>-<timestamp>); never overwritten.")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue the run in this folder from its last checkpoint.")
@click.option("--auto-resume", is_flag=True,
              help="With --out: resume the run in that folder if it has begun, else start it (one job script for the "
                   "first start and every requeue).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_config_options
def train(data: Path, config_file: Path | None, out: Path | None, resume: Path | None, auto_resume: bool, quiet: bool,
          **overrides: Any) -> None:
    """Train a VAE on the SMILES in DATA (.csv, .csv.gz, .smi, .txt). Ctrl-C or SIGTERM (a scheduler's stop) ends
    the current step and writes a checkpoint (exit code 130 or 143); --resume continues from it."""
    from molvae.training.train import fit, resume_config

    if auto_resume:
        if out is None or resume is not None:
            raise click.UsageError("--auto-resume needs --out (the run folder) and no --resume")
        if (out / "last.safetensors").exists() or (out / "config.toml").exists():
            if config_file is not None:  # the job script's settings must be the run's
                stored = load_config(config_file).with_overrides(overrides).to_dict()
                overrides = {**{k: v for s in stored.values() for k, v in s.items()}, **overrides}
            resume, out, config_file = out, None, None
    if resume is not None:
        if config_file is not None or out is not None:
            raise click.UsageError("--resume continues a run with its own config and folder; drop --config/--out")
        config = resume_config(resume, overrides)
    elif overrides.get("init_from"):
        config = _fine_tune_config(config_file, overrides)
    else:
        config = load_config(config_file).with_overrides(overrides)
    result = fit(data, config, out=out, resume=resume, progress=not quiet)
    if result.rank != 0:  # under torchrun, rank 0 speaks for all
        return
    v = result.last_validation
    click.echo(
        f"stopped by {result.stopped_by} at step {result.step} (epoch {result.epoch}); "
        f"validation: loss {v.get('loss', float('nan')):.3f}, reconstruction {v.get('reconstruction_rate', 0):.3f}, "
        f"prior validity {v.get('prior_validity', 0):.3f}, active units {v.get('active_units', 0)}; "
        f"run folder {result.run_dir}",
        err=True,
    )
    for name, error in v.get("property_errors", {}).items():
        click.echo(f"property {name}: validation MAE {error['mae']:.4f}, R^2 {error['r2']:.3f} (n = {error['n']})",
                   err=True)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in result.notes:
        click.echo(note, err=True)
    if result.stopped_by in STOP_CODES:  # a scheduler's requeue logic reads the code
        sys.exit(STOP_CODES[result.stopped_by])


STOP_CODES = {"interrupt": 130, "terminated": 143}  # Ctrl-C, SIGTERM: 128 + the signal's number


def _fine_tune_config(config_file: Path | None, overrides: dict[str, Any]) -> Any:
    """The config of a fine-tuning run: the given file, else the short fine-tuning schedule; the architecture is
    the initial model's, so model options are refused."""
    from molvae.config import ModelConfig
    from molvae.training.finetune import ARCHITECTURE_KEYS, fine_tune_defaults

    fixed = [f.name for f in dataclasses.fields(ModelConfig)] + list(ARCHITECTURE_KEYS)
    clash = sorted(k for k in fixed if overrides.get(k) is not None)
    if clash:
        raise click.UsageError(f"--init-from takes the architecture from that model; drop {clash}")
    if config_file is not None:
        return load_config(config_file).with_overrides(overrides)
    return fine_tune_defaults(load_config(None), overrides["init_from"]).with_overrides(overrides)
