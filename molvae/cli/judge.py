"""Commands that judge or improve molecules with a model: ``evaluate``, ``fit-properties``, ``fit-prior``,
``optimize``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from molvae.cli.group import (
    _check_sampling,
    _emit,
    _model_option,
    _output_options,
    _standardize_option,
    main,
)


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


@main.command("fit-prior")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), required=True, help="The new checkpoint (.safetensors).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--method", type=click.Choice(["flow", "em", "exemplar"]), default="flow", show_default=True,
              help="flow: a spline flow trained on the codes; em: Gaussians fitted by EM to the codes; exemplar: one "
                   "Gaussian per molecule, its own posterior.")
@click.option("--components", type=int, default=None,
              help="Gaussians in the mixture (default 1024 for em, 10000 for exemplar).")
@click.option("--widen", type=float, default=1.0, show_default=True,
              help="Multiply the prior's standard deviations by this when sampling (> 1: more novel samples).")
@click.option("--epochs", type=int, default=20, show_default=True, help="flow: passes over the molecules' codes.")
@click.option("--max-molecules", type=int, default=200_000, show_default=True, help="Molecules encoded (drawn by seed).")
@click.option("--smiles-column", default=None, help="SMILES column of DATA.")
@click.option("--seed", type=int, default=0, show_default=True)
@_model_option
def fit_prior(data: Path, output: Path, force: bool, method: str, components: int | None, widen: float,
              epochs: int, max_molecules: int, smiles_column: str | None, seed: int, model_path: Path | None,
              device: str, precision: str) -> None:
    """Fit a prior to the codes of DATA's molecules (the model's training set, as a rule) and write the model with
    it to OUTPUT; its samples then draw z from it instead of N(0, I) (--source prior still can)."""
    from molvae.api import MolVAE
    from molvae.outputs import check_writable

    check_writable(output, force, (".safetensors",))
    vae = MolVAE.load(model_path, device=device, precision=precision)
    fit = vae.fit_prior(data, components, max_molecules, smiles_column, seed, method=method, widen=widen,
                        epochs=epochs, progress=True)
    path = vae.save(output, force=force)
    what = (f"spline flow (best epoch {fit['best_epoch']} of {epochs}, held-out NLL "
            f"{min(fit['val_nll']):.2f} nats)" if method == "flow" else f"mixture of {fit['n_components']} Gaussians")
    click.echo(f"{what} ({method}, widen {widen:g}) from the codes of {fit['n_molecules']} molecules of {data}")
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.option("--objective", default=None,
              help="qed | logp | penalized_logp | similarity (with --target) | module:function | file.py:function")
@click.option("--scoring", "scoring_file", type=click.Path(path_type=Path), default=None,
              help="A scoring file (TOML): several components, each with a weight and a transform (docs: Optimizing "
                   "molecules); instead of --objective.")
@click.option("--start", "start_file", type=click.Path(path_type=Path), default=None,
              help="File of start molecules (.csv/.smi); required by gradient and by --similarity; without it, local "
                   "designs from the model's samples.")
@click.option("--method", type=click.Choice(["local", "gradient", "bo", "random"]), default="local", show_default=True,
              help="local: search around the start molecules (inverted codes, predictor-ranked), or design from the "
                   "model's samples without --start; gradient: ascent on the property predictor; bo: a GP in latent "
                   "space; random: the baseline.")
@click.option("--budget", type=int, default=1000, show_default=True, help="Objective (oracle) calls at most.")
@click.option("--n-steps", type=int, default=50, show_default=True, help="Steps (gradient) or rounds (bo, random).")
@click.option("--similarity", type=float, default=None, help="Keep molecules with Tanimoto to their start >= this.")
@click.option("--target", default=None, help="Target SMILES of the similarity objective.")
@click.option("--max-sa", type=float, default=None, help="Keep molecules with SA score <= this.")
@click.option("--allow-degenerate", is_flag=True,
              help="Keep degenerate molecules (8+ sp3 carbons in a chain, 4+ aryl-aryl bonds, 39+ heavy atoms).")
@click.option("--radius", type=float, default=0.5, show_default=True, help="Search radius around start z (bo, random).")
@click.option("--points", type=int, default=1000, show_default=True,
              help="local: latent points decoded per start molecule (decoding costs no oracle call).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--journal", type=click.Path(path_type=Path), default=None,
              help="Write every oracle call to this file; the same command with the same file resumes a stopped "
                   "search without paying for a call twice.")
@click.option("--smiles-column", default=None, help="SMILES column of the start file.")
@_standardize_option
@_model_option
@_output_options
def optimize(objective: str | None, scoring_file: Path | None, start_file: Path | None, method: str, budget: int,
             n_steps: int, similarity: float | None, target: str | None, max_sa: float | None, allow_degenerate: bool,
             radius: float, points: int, seed: int, journal: Path | None, smiles_column: str | None,
             standardize: str, model_path: Path | None, device: str, precision: str, output: Path | None,
             force: bool) -> None:
    """Optimize molecules in latent space: CSV of start,start_score,smiles,score,similarity,sa,step,oracle_calls,
    method (and each scoring-file component's value), best first (the z of each row goes to OUTPUT with suffix
    .z.npy)."""
    from molvae.api import MolVAE
    from molvae.errors import OptimizationError
    from molvae.optimization.objectives import load_objective
    from molvae.optimization.optimize import as_array
    from molvae.optimization.scoring_file import load_scoring
    from molvae.outputs import check_writable, write_array
    from molvae.smiles.files import read_rows

    check_writable(output, force, (".csv",))
    if (objective is None) == (scoring_file is None):
        raise click.UsageError("give --objective or --scoring (one of them)")
    fn = load_scoring(scoring_file) if scoring_file is not None else load_objective(objective)
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
                             radius=radius, n_points=points, progress=True, standardize=standardize, journal=journal)
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
    if frame.attrs.get("interrupted"):
        again = f"; run the same command to resume from {journal}" if journal is not None else ""
        click.echo(f"stopped by Ctrl-C: the molecules found so far were written{again}", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
