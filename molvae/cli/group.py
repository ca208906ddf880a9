"""The ``molvae`` command group: one-line errors with exit codes (``molvae.errors``; ``--debug`` shows the
traceback instead), and the options the commands share."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from molvae import __version__
from molvae.config import SECTIONS
from molvae.errors import MolVAEError, OutputError, describe_os_error

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
        except OSError as exc:  # the system refused a read or write that no command-specific handler caught
            if ctx.params.get("debug"):
                raise
            click.echo(f"error: {describe_os_error(exc)}", err=True)
            sys.exit(OutputError.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="molvae")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """molvae: a SMILES variational autoencoder. Train, sample, score and optimize molecules."""


def _model_option(func, default: str = "the bundled default model"):  # noqa: ANN001, ANN202
    func = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")(func)
    func = click.option("--precision", type=click.Choice(["fp32", "bf16", "auto"]), default="fp32", show_default=True,
                        help="Number format of decoding; auto: bf16 where the hardware has it (AVX512-BF16, AMX, "
                             "CUDA), about 2x faster there.")(func)
    return click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
                        help=f"A checkpoint (.safetensors), a run folder (its best checkpoint) or a bundled model's name "
                             f"(default, zinc250k); default: {default}.")(func)


def _output_options(func):  # noqa: ANN001, ANN202
    func = click.option("--force", is_flag=True, help="Overwrite an existing output file.")(func)
    return click.option("--output", type=click.Path(path_type=Path), default=None,
                        help="Output file (default: CSV on stdout).")(func)


def _standardize_option(func):  # noqa: ANN001, ANN202
    return click.option("--standardize", type=click.Choice(["auto", "always", "none"]), default="auto",
                        show_default=True,
                        help="Fit molecules to what the model can express: auto changes one only as far as the "
                             "model's vocabulary needs (salt, charge, stereo, isotopes), always applies every "
                             "change, none refuses what the model cannot read. What changed is reported.")(func)


def _report_standardization(vae: Any, smiles: list[str], policy: str) -> None:
    """The one-line standardization summary on stderr, when something changed or cannot be expressed."""
    from molvae.chemistry.standardize import summary

    line = summary(vae.standardize(smiles, policy))
    if line:
        click.echo(line, err=True)


def _emit(frame: Any, output: Path | None) -> None:
    from molvae.outputs import csv_bytes, write_csv

    if output is None:
        click.echo(csv_bytes(frame).decode(), nl=False)
    else:
        write_csv(frame, output)


def _check_sampling(n: int, temperature: float, n_jobs: int) -> None:
    from molvae.errors import ConfigError

    if n <= 0:
        raise ConfigError(f"--n {n}: expected an integer > 0")
    if not temperature >= 0 or temperature == float("inf"):
        raise ConfigError(f"--temperature {temperature}: expected a finite number >= 0")
    if n_jobs < 0:
        raise ConfigError(f"--n-jobs {n_jobs}: expected 0 (all cores) or more")
