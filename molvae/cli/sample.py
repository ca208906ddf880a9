"""``molvae sample`` (streamed, sharded, under torchrun) and ``molvae combine`` (part files into one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from molvae.cli.group import (
    _check_sampling,
    _model_option,
    main,
)


@main.command()
@click.option("--n", "n", type=int, default=1000, show_default=True, help="How many molecules to draw.")
@click.option("--temperature", type=float, default=None,
              help="Sampling temperature (0: greedy). Default: the model's recommended one (its card), else 1.0.")
@click.option("--seed", type=int, default=None, help="Same seed, same molecules (whatever the chunks or shards).")
@click.option("--source", type=click.Choice(["prior", "flow", "mixture", "aggregate"]), default=None,
              help="Where z comes from: N(0, I) (prior), the flow or the mixture fitted to the training molecules' "
                   "codes (flow, mixture: see fit-prior) or their single Gaussian (aggregate). Default: the model's "
                   "own (its card).")
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
