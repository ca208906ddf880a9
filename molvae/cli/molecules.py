"""Commands on molecules and latent vectors: ``score``, ``encode``, ``decode``, ``interpolate``, ``info``."""

from __future__ import annotations

from pathlib import Path

import click

from molvae.cli.group import (
    _check_sampling,
    _emit,
    _model_option,
    _output_options,
    _report_standardization,
    _standardize_option,
    main,
)


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
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The card as JSON.")
def info(model: Path | None, as_json: bool) -> None:
    """The card of MODEL (a run folder, checkpoint or bundled model's name; default: the bundled model): data,
    fine-tuning, vocabulary and what it cannot read, architecture, training, stored figures, recommended temperature, sha256."""
    import json

    from molvae.api import model_path
    from molvae.model.card import card, card_text
    from molvae.model.checkpoint import load_checkpoint

    path = model_path(model)
    details = card(load_checkpoint(path), path)
    click.echo(json.dumps(details, indent=2, default=str) if as_json else card_text(details))
