"""The ``molvae`` command: parse options, build a config, call the library. Nothing else lives here.

Errors a user can cause end as one line on stderr and a documented exit code (see ``molvae.errors``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import click

from molvae import __version__
from molvae.config import SECTIONS, load_config
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


def _model_option(func, default: str = "the bundled default model"):  # noqa: ANN001, ANN202
    func = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")(func)
    func = click.option("--precision", type=click.Choice(["fp32", "bf16", "auto"]), default="fp32", show_default=True,
                        help="Number format of decoding; auto: bf16 where the hardware has it (AVX512-BF16, AMX, "
                             "CUDA), about 2x faster there.")(func)
    return click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
                        help=f"A checkpoint (.safetensors) or run folder (its best checkpoint); default: {default}.")(func)


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


@main.command()
@click.option("--n", "n", type=int, default=1000, show_default=True, help="How many molecules to draw.")
@click.option("--temperature", type=float, default=None,
              help="Sampling temperature (0: greedy). Default: the model's recommended one (its card), else 1.0.")
@click.option("--seed", type=int, default=None, help="Same seed, same molecules (whatever the chunks or shards).")
@click.option("--source", type=click.Choice(["prior", "aggregate"]), default="prior", show_default=True,
              help="z from N(0, I) or from the aggregate posterior of the training molecules.")
@click.option("--valid-only", is_flag=True, help="Keep valid molecules only.")
@click.option("--unique", is_flag=True, help="Keep the first occurrence of each valid molecule only.")
@click.option("--score/--no-score", default=True, show_default=True, help="Add RDKit properties.")
@click.option("--syntax-mask/--no-syntax-mask", default=True, show_default=True,
              help="Let the decoder write only syntactically valid SMILES (branches and rings closed).")
@click.option("--n-jobs", type=int, default=0, help="Processes for scoring (0: all cores).")
@click.option("--chunk-size", type=int, default=100_000, show_default=True,
              help="Molecules decoded, scored and written at a time (memory does not grow with --n).")
@click.option("--shard", default=None,
              help="I/K: draw only the I-th of K disjoint parts (one per machine); under torchrun each rank "
                   "takes its own part. Output NAME.EXT becomes NAME.shardI-of-K.EXT (NAME.rankR.EXT).")
@_model_option
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Output .csv, .csv.gz or .parquet, written aside and renamed when complete (default: CSV on "
                   "stdout).")
def sample(n: int, temperature: float | None, seed: int | None, source: str, valid_only: bool, unique: bool, score: bool,
           syntax_mask: bool, n_jobs: int, chunk_size: int, shard: str | None, model_path: Path | None, device: str,
           precision: str, output: Path | None, force: bool) -> None:
    """Draw molecules from a trained model: CSV of smiles,valid,canonical_smiles,qed,logP,SA,MW,... (+ novel),
    streamed chunk by chunk with a progress bar."""
    from molvae.api import MolVAE
    from molvae.generation.stream import Tally, parse_shard
    from molvae.outputs import TABLE_SUFFIXES, check_writable
    from molvae.training.distributed import init_from_env

    _check_sampling(n, 1.0 if temperature is None else temperature, n_jobs)
    ctx, _ = init_from_env("cpu")
    part = (ctx.rank, ctx.world_size) if ctx.enabled else parse_shard(shard) if shard else (0, 1)
    if ctx.enabled and (output is None or seed is None):
        raise click.UsageError("under torchrun, give --output (each rank writes its own part) and --seed (the "
                               "ranks must draw from one sample)")
    if shard and output is None:
        raise click.UsageError("--shard writes a part file: give --output")
    target = None if output is None else _part_name(output, part, ctx.enabled)
    check_writable(target, force, TABLE_SUFFIXES)
    vae = MolVAE.load(model_path, device=device, precision=precision)
    temperature = vae.sample_temperature if temperature is None else temperature
    start, tally = time.perf_counter(), Tally()
    frames = vae.iter_samples(n, chunk_size, temperature, seed, source, score, valid_only, unique, n_jobs,
                              syntax_mask, part, progress=output is not None, tally=tally)
    _stream(frames, target)
    s = tally.as_dict(time.perf_counter() - start)
    novel = "" if s["novel"] != s["novel"] else f", novel {s['novel']:.1%}"
    what = f"{tally.n} sampled" + (f" (part {part[0]} of {part[1]})" if part[1] > 1 else "")
    click.echo(f"{what}: valid {s['valid']:.1%}, unique {s['unique']:.1%}{novel}; temperature {temperature:g}; "
               f"{s['seconds']:.1f} s, {s['molecules_per_s']:.0f} molecules/s"
               + (f"; {tally.rows} rows in {target}" if target else ""), err=True)
    if target is not None and part[1] > 1:
        _write_summary(target, part, tally, s, ctx, output)


@main.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The card as JSON.")
def info(model: Path | None, as_json: bool) -> None:
    """The card of MODEL (a run folder or checkpoint; default: the bundled model): data, fine-tuning, vocabulary and
    what it cannot read, architecture, training, stored figures, recommended temperature, sha256."""
    import json

    from molvae.api import bundled_model_path
    from molvae.model.card import card, card_text
    from molvae.model.checkpoint import load_checkpoint, resolve_path

    path = bundled_model_path() if model is None else resolve_path(model)
    details = card(load_checkpoint(path), path)
    click.echo(json.dumps(details, indent=2, default=str) if as_json else card_text(details))


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="The combined .csv, .csv.gz or .parquet, written aside and renamed when complete.")
@click.option("--unique", is_flag=True, help="Keep only the first row of each valid molecule across all parts.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def combine(parts: tuple[Path, ...], output: Path, unique: bool, force: bool) -> None:
    """Combine the part files of a sharded sample (e.g. big.rank*.csv.gz) into one file, chunk by chunk."""
    from molvae.generation.parts import combine as combine_parts
    from molvae.outputs import TABLE_SUFFIXES, TableWriter, check_writable

    check_writable(output, force, TABLE_SUFFIXES)
    writer = TableWriter(output)
    try:
        read, written = combine_parts(parts, writer, unique)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    click.echo(f"{read} rows read from {len(parts)} part(s), {written} written to {output}", err=True)


def _part_name(output: Path, part: tuple[int, int], torchrun: bool) -> Path:
    """NAME.EXT for a whole sample; NAME.rankR.EXT under torchrun; NAME.shardI-of-K.EXT for --shard I/K."""
    if part[1] == 1:
        return output
    name = output.name
    suffix = next(s for s in (".csv.gz", ".parquet", ".csv", "") if name.lower().endswith(s))
    stem = name[: len(name) - len(suffix)]
    tag = f"rank{part[0]}" if torchrun else f"shard{part[0]}-of-{part[1]}"
    return output.with_name(f"{stem}.{tag}{suffix}")


def _stream(frames: Any, target: Path | None) -> None:
    """Write the frames as they come: to stdout, or aside and renamed into place when all are written; an
    interruption or a write error says how many rows were written where."""
    from molvae.errors import OutputError
    from molvae.outputs import TableWriter

    if target is None:
        first = True
        for frame in frames:
            click.echo(frame.to_csv(index=False, header=first, lineterminator="\n"), nl=False)
            first = False
        return
    writer = TableWriter(target)
    try:
        for frame in frames:
            writer.write(frame)
        writer.commit()
    except KeyboardInterrupt:
        frames.close()  # ends the progress bar and the scoring workers before the message
        raise OutputError(f"interrupted: {writer.abort()}", code=130) from None
    except OSError as exc:
        frames.close()
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; {writer.abort()}") from None


def _write_summary(target: Path, part: tuple[int, int], tally: Any, summary: dict[str, float], ctx: Any,
                   output: Path) -> None:
    """Each part's counts beside it (NAME.<part>.summary.json); under torchrun rank 0 also writes the totals over
    all ranks (NAME.summary.json)."""
    import json

    from molvae.outputs import atomic_write
    from molvae.training.distributed import mean_over_ranks, shutdown

    counts = {"n": tally.n, "valid": tally.valid, "distinct_in_part": tally.distinct, "rows": tally.rows}
    atomic_write(target.with_name(target.name + ".summary.json"),
                 json.dumps({"part": list(part), **counts, **summary}, indent=2).encode())
    if ctx.enabled:
        totals = {k: round(v * ctx.world_size) for k, v in mean_over_ranks(ctx, counts).items()}
        if ctx.is_main:
            atomic_write(output.with_name(output.name + ".summary.json"),
                         json.dumps({"parts": ctx.world_size, **totals}, indent=2).encode())
        shutdown(ctx)


def _check_sampling(n: int, temperature: float, n_jobs: int) -> None:
    from molvae.errors import ConfigError

    if n <= 0:
        raise ConfigError(f"--n {n}: expected an integer > 0")
    if not temperature >= 0 or temperature == float("inf"):
        raise ConfigError(f"--temperature {temperature}: expected a finite number >= 0")
    if n_jobs < 0:
        raise ConfigError(f"--n-jobs {n_jobs}: expected 0 (all cores) or more")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--smiles-column", default=None, help="SMILES column of a CSV (default: 'smiles' in any case, else first).")
@click.option("--n-jobs", type=int, default=0, help="Processes (0: all cores).")
@_output_options
def score(file: Path, smiles_column: str | None, n_jobs: int, output: Path | None, force: bool) -> None:
    """RDKit validity, canonical SMILES and properties of every row of FILE (invalid rows kept, valid=False)."""
    from molvae.chemistry.scoring import score_smiles
    from molvae.outputs import check_writable
    from molvae.smiles.files import read_rows

    _check_sampling(1, 0.0, n_jobs)
    check_writable(output, force, (".csv",))
    _, rows = read_rows(file, smiles_column)
    frame = score_smiles([raw for _, raw in rows], n_jobs=n_jobs, progress=output is not None)
    frame.insert(0, "line", [line for line, _ in rows])
    _emit(frame, output)
    click.echo(f"{len(frame)} rows scored, {int(frame.valid.sum())} valid", err=True)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), required=True, help="z as .npy or .csv.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--smiles-column", default=None, help="SMILES column of a CSV.")
@click.option("--errors", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="skip: rows that cannot be encoded become NaN rows.")
@click.option("--sample", "draw", is_flag=True, help="Draw z from q(z|x) instead of taking its mean.")
@click.option("--seed", type=int, default=None)
@_standardize_option
@_model_option
def encode(file: Path, output: Path, force: bool, smiles_column: str | None, errors: str, draw: bool,
           seed: int | None, standardize: str, model_path: Path | None, device: str, precision: str) -> None:
    """Encode the molecules of FILE into latent vectors (one row per input row). Rows that were standardized or
    cannot be read are listed in OUTPUT's side file NAME.standardized.csv (line, smiles, standardized, missing)."""
    from molvae.api import MolVAE
    from molvae.outputs import check_writable, write_array, write_csv

    check_writable(output, force, (".npy", ".csv"))
    vae = MolVAE.load(model_path, device=device, precision=precision)
    z, table = vae.encode_file(file, smiles_column, errors, draw, seed, standardize=standardize)
    write_array(z.numpy(), output)
    noted = table[(table.standardized != "") | (table.missing != "")]
    if len(noted):
        side = output.with_name(output.name.rsplit(".", 1)[0] + ".standardized.csv")
        write_csv(noted, side)
        click.echo(f"{table.attrs['summary']} (rows listed in {side})", err=True)
    skipped = int(z.isnan().any(dim=1).sum())
    click.echo(f"{len(z)} rows encoded to {output}" + (f", {skipped} NaN rows (skipped)" if skipped else ""), err=True)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--temperature", type=float, default=0.0, show_default=True, help="0: greedy.")
@click.option("--n-attempts", type=int, default=1, show_default=True, help="Most frequent valid decode of N draws.")
@click.option("--beam-width", type=int, default=1, show_default=True, help="> 1: beam search.")
@click.option("--seed", type=int, default=None)
@_model_option
@_output_options
def decode(file: Path, temperature: float, n_attempts: int, beam_width: int, seed: int | None,
           model_path: Path | None, device: str, precision: str, output: Path | None, force: bool) -> None:
    """Decode latent vectors (.npy, or CSV of numbers) into SMILES (empty where no valid molecule came out)."""
    import pandas as pd

    from molvae.api import MolVAE
    from molvae.outputs import check_writable, read_array

    check_writable(output, force, (".csv",))
    z = read_array(file)
    vae = MolVAE.load(model_path, device=device, precision=precision)
    smiles = vae.decode(z, temperature=temperature, n_attempts=n_attempts, beam_width=beam_width, seed=seed)
    _emit(pd.DataFrame({"row": range(len(smiles)), "smiles": smiles}), output)


@main.command()
@click.argument("start")
@click.argument("end")
@click.option("--steps", type=int, default=10, show_default=True)
@click.option("--method", type=click.Choice(["slerp", "linear"]), default="slerp", show_default=True)
@_standardize_option
@_model_option
@_output_options
def interpolate(start: str, end: str, steps: int, method: str, standardize: str, model_path: Path | None, device: str,
                precision: str, output: Path | None, force: bool) -> None:
    """Molecules decoded along the latent path from START to END (SMILES), consecutive repeats removed."""
    import pandas as pd

    from molvae.api import MolVAE
    from molvae.chemistry import chem
    from molvae.outputs import check_writable

    check_writable(output, force, (".csv",))
    vae = MolVAE.load(model_path, device=device, precision=precision)
    path = vae.interpolate(start, end, n_steps=steps, method=method, standardize=standardize)
    _report_standardization(vae, [start, end], standardize)
    given = [chem.to_mol(start), chem.to_mol(end)]  # similarity to the molecules as given, not as standardized
    mols = [chem.to_mol(s) for s in path]
    _emit(pd.DataFrame({"smiles": path, "similarity_start": [round(chem.tanimoto(m, given[0]), 4) for m in mols],
                        "similarity_end": [round(chem.tanimoto(m, given[1]), 4) for m in mols]}), output)


@main.command()
@click.argument("samples", type=click.Path(path_type=Path))
@click.option("--reference", "references", multiple=True,
              help="NAME=FILE or FILE (repeatable; the first is 'Test'). Default: data/moses/test.csv.gz as Test and "
                   "data/moses/test_scaffolds.csv.gz as TestSF when present.")
@click.option("--train", "train_file", type=click.Path(path_type=Path), default=None,
              help="Training SMILES, for novelty.")
@click.option("--fcd/--no-fcd", default=True, show_default=True, help="Frechet ChemNet Distance (needs fcd_torch).")
@click.option("--n-reconstruct", type=int, default=1000, show_default=True,
              help="With --model: reference molecules to reconstruct.")
@click.option("--n-jobs", type=int, default=0, help="Processes for RDKit work (0: all cores).")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Folder for metrics.json, metrics.md, histograms.png, molecules.png.")
@click.option("--force", is_flag=True, help="Write into an existing non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_standardize_option
@(lambda func: _model_option(func, "none, no reconstruction figures"))
def evaluate(samples: Path, references: tuple[str, ...], train_file: Path | None, fcd: bool, n_reconstruct: int,
             n_jobs: int, output: Path | None, force: bool, quiet: bool, standardize: str, model_path: Path | None,
             device: str, precision: str) -> None:
    """MOSES metrics of the SMILES in SAMPLES against reference sets (and reconstruction with --model)."""
    from molvae.errors import ConfigError
    from molvae.evaluation.evaluate import evaluate_samples, load_reference, load_training_set, read_smiles

    _check_sampling(1, 0.0, n_jobs)
    if output is not None and output.exists() and (not output.is_dir() or any(output.iterdir())) and not force:
        raise ConfigError(f"output folder {output} exists and is not empty; pass --force to write into it")
    pairs = []
    for i, item in enumerate(references):
        name, _, path = item.rpartition("=") if "=" in item else ("Test" if i == 0 else f"Ref{i + 1}", "", item)
        pairs.append((name, Path(path)))
    if not pairs:
        default = [("Test", Path("data/moses/test.csv.gz")), ("TestSF", Path("data/moses/test_scaffolds.csv.gz"))]
        pairs = [(n, p) for n, p in default if p.exists()]
    if not pairs:
        raise ConfigError("no reference set: pass --reference FILE (or run scripts/fetch_zinc.py for data/moses/)")
    generated = read_smiles(samples)
    refs = [load_reference(name, path, n_jobs=n_jobs, fcd=fcd, progress=not quiet) for name, path in pairs]
    train = load_training_set(train_file) if train_file is not None else None
    result = evaluate_samples(generated, refs, train=train, n_jobs=n_jobs, fcd=fcd, progress=not quiet)
    if model_path is not None:
        from molvae.api import MolVAE
        from molvae.evaluation.reconstruction import reconstruction

        vae = MolVAE.load(model_path, device=device, precision=precision)
        held_out = read_smiles(pairs[0][1])[:n_reconstruct]
        result.metrics.update(reconstruction(vae, held_out, standardize=standardize))
    for key, value in result.metrics.items():
        click.echo(f"{key:<22}{value:.4f}")
    if output is not None:
        from molvae.evaluation.report import write_report

        output.mkdir(parents=True, exist_ok=True)
        for path in write_report(output, result, refs):
            click.echo(f"wrote {path}", err=True)


@main.command("fit-properties")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--properties", required=True, help="Numeric columns of DATA to predict, e.g. 'logP,qed,SAS'.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="The new checkpoint (.safetensors).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--smiles-column", default=None, help="SMILES column of DATA.")
@click.option("--max-molecules", type=int, default=50_000, show_default=True, help="Rows encoded (drawn by seed).")
@click.option("--epochs", type=int, default=100, show_default=True, help="Passes of the predictor over them.")
@click.option("--seed", type=int, default=0, show_default=True)
@_model_option
def fit_properties(data: Path, properties: str, output: Path, force: bool, smiles_column: str | None,
                   max_molecules: int, epochs: int, seed: int, model_path: Path | None, device: str, precision: str) -> None:
    """Fit a property predictor on z of a frozen model; write the model with it to OUTPUT."""
    from molvae.api import MolVAE
    from molvae.outputs import check_writable

    check_writable(output, force, (".safetensors",))
    vae = MolVAE.load(model_path, device=device, precision=precision)
    errors = vae.fit_properties(data, properties, smiles_column, max_molecules, epochs=epochs, seed=seed)
    path = vae.save(output, force=force)
    for name, error in errors.items():
        click.echo(f"{name:<16}held-out MAE {error['mae']:.4f}  R^2 {error['r2']:.3f}  (n = {error['n']})")
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.option("--objective", required=True,
              help="qed | logp | penalized_logp | similarity (with --target) | module:function | file.py:function")
@click.option("--start", "start_file", type=click.Path(path_type=Path), default=None,
              help="File of start molecules (.csv/.smi); required by gradient and by --similarity.")
@click.option("--method", type=click.Choice(["gradient", "bo", "random"]), default="gradient", show_default=True)
@click.option("--budget", type=int, default=1000, show_default=True, help="Objective (oracle) calls at most.")
@click.option("--n-steps", type=int, default=50, show_default=True, help="Steps (gradient) or rounds (bo, random).")
@click.option("--similarity", type=float, default=None, help="Keep molecules with Tanimoto to their start >= this.")
@click.option("--target", default=None, help="Target SMILES of the similarity objective.")
@click.option("--max-sa", type=float, default=None, help="Keep molecules with SA score <= this.")
@click.option("--allow-degenerate", is_flag=True,
              help="Keep degenerate molecules (8+ sp3 carbons in a chain, 4+ aryl-aryl bonds, 39+ heavy atoms).")
@click.option("--radius", type=float, default=0.5, show_default=True, help="Search radius around start z (bo, random).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--smiles-column", default=None, help="SMILES column of the start file.")
@_standardize_option
@_model_option
@_output_options
def optimize(objective: str, start_file: Path | None, method: str, budget: int, n_steps: int,
             similarity: float | None, target: str | None, max_sa: float | None, allow_degenerate: bool,
             radius: float, seed: int, smiles_column: str | None, standardize: str, model_path: Path | None,
             device: str, precision: str, output: Path | None, force: bool) -> None:
    """Optimize molecules in latent space: CSV of start,start_score,smiles,score,similarity,sa,step,oracle_calls,
    method, best first (the z of each row goes to OUTPUT with suffix .z.npy)."""
    from molvae.api import MolVAE
    from molvae.errors import OptimizationError
    from molvae.optimization.objectives import load_objective
    from molvae.optimization.optimize import as_array
    from molvae.outputs import check_writable, write_array
    from molvae.smiles.files import read_rows

    check_writable(output, force, (".csv",))
    fn = load_objective(objective)
    vae = MolVAE.load(model_path, device=device, precision=precision)
    start = None
    if start_file is not None:  # every start row must be one the model can read: an error names file and line
        _, table = vae.encode_file(start_file, smiles_column, errors="raise", standardize=standardize)
        start = [raw for _, raw in read_rows(start_file, smiles_column)[1]]
        if table.attrs["summary"]:
            click.echo(table.attrs["summary"], err=True)

    def emit(frame) -> None:  # noqa: ANN001
        _emit(frame.drop(columns="z"), output)
        if output is not None and len(frame):
            write_array(as_array(frame), output.with_name(output.name[: -len(".csv")] + ".z.npy"))

    try:
        frame = vae.optimize(fn, start=start, method=method, n_steps=n_steps, budget=budget, similarity=similarity,
                             seed=seed, target=target, max_sa=max_sa, allow_degenerate=allow_degenerate,
                             radius=radius, progress=True, standardize=standardize)
    except OptimizationError as exc:
        if exc.results is not None:
            emit(exc.results)
            click.echo(f"{len(exc.results)} molecules found before the objective failed were written", err=True)
        raise
    emit(frame)
    left = ", ".join(f"{v} {k}" for k, v in frame.attrs["left_out"].items() if v)
    best = f"; best {frame.score.iloc[0]:.4f} {frame.smiles.iloc[0]}" if len(frame) else ""
    click.echo(f"{len(frame)} molecules kept, {frame.attrs['oracle_calls']} oracle calls"
               + (f" (left out: {left})" if left else "") + best, err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
