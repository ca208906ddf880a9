"""The ``molvae`` command: parse options, build a config, call the library. Nothing else lives here.

Errors a user can cause end as one line on stderr and a documented exit code (see ``molvae.errors``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from molvae import __version__
from molvae.config import SECTIONS, load_config
from molvae.errors import MolVAEError

_TYPES = {"int": int, "float": float, "str": str, "str | None": str}


def _config_options(func):  # noqa: ANN001, ANN202
    """One kebab-case option per config field (``latent_dim`` -> ``--latent-dim``), default None = from file."""
    for section, klass in reversed(list(SECTIONS.items())):
        for f in reversed(dataclasses.fields(klass)):
            flag = f.name.replace("_", "-")
            help_text = f"[{section}] {f.name} (default {f.default!r})"
            if f.type == "bool":
                func = click.option(f"--{flag}/--no-{flag}", f.name, default=None, help=help_text)(func)
            else:
                func = click.option(f"--{flag}", f.name, type=_TYPES[f.type], default=None, help=help_text)(func)
    return func


class _Group(click.Group):
    """Turns molvae's own errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MolVAEError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="molvae")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """molvae: a SMILES variational autoencoder. Train, sample, score and optimize molecules."""


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML config file (default: the built-in defaults, see configs/default.toml).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder (default runs/<data-stem>-<timestamp>); never overwritten.")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue the run in this folder from its last checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_config_options
def train(data: Path, config_file: Path | None, out: Path | None, resume: Path | None, quiet: bool,
          **overrides: Any) -> None:
    """Train a VAE on the SMILES in DATA (.csv, .csv.gz, .smi, .txt)."""
    from molvae.train import fit, resume_config

    if resume is not None:
        if config_file is not None or out is not None:
            raise click.UsageError("--resume continues a run with its own config and folder; drop --config/--out")
        config = resume_config(resume, overrides)
    else:
        config = load_config(config_file).with_overrides(overrides)
    result = fit(data, config, out=out, resume=resume, progress=not quiet)
    v = result.last_validation
    click.echo(
        f"stopped by {result.stopped_by} at step {result.step} (epoch {result.epoch}); "
        f"validation: loss {v.get('loss', float('nan')):.3f}, reconstruction {v.get('reconstruction_rate', 0):.3f}, "
        f"prior validity {v.get('prior_validity', 0):.3f}, active units {v.get('active_units', 0)}; "
        f"run folder {result.run_dir}",
        err=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
