"""Train a config for a wall-time budget, sample, evaluate, and append a row to the quality results table.

Usage:
  python scripts/benchmark_quality.py --config configs/default.toml --budget 30m [--data data/zinc.csv]
         [--n-samples 30000] [--temperature 1.0] [--results docs/quality] [--no-fcd] [--references Test,TestSF]
  python scripts/benchmark_quality.py --model RUN_FOLDER [--temperature 0.8]   (evaluate a run trained before)

Needs the MOSES splits (python scripts/fetch_zinc.py). The row (config file and its full settings, budget, steps and
molecules seen, hardware, every MOSES metric against Test and TestSF, novelty against the MOSES training split,
reconstruction of 1,000 test molecules) is appended to RESULTS.json and RESULTS.md (a MOSES-style leaderboard with
the published MOSES VAE row for comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXED_ROWS = [  # for comparison: the MOSES paper's rows, and the reference VAE trained 30 minutes on this CPU
    {"model": "MOSES VAE (published, GPU, 100 epochs)", "valid": 0.977, "unique@10000": 0.998, "FCD/Test": 0.099,
     "SNN/Test": 0.626, "Frag/Test": 0.999, "Scaf/Test": 0.939, "IntDiv": 0.856,
     "Filters": 0.997, "Novelty": 0.695},
    {"model": "CharRNN (published, GPU)", "valid": 0.975, "FCD/Test": 0.073, "Novelty": 0.842},
    {"model": "MOSES VAE (molsets 0.3.1), 30 min on this 2-core CPU (issue #5's measurement)", "budget": "30m",
     "valid": 0.023, "FCD/Test": 40.0},
]
MOSES_FILES = {"Test": "test.csv.gz", "TestSF": "test_scaffolds.csv.gz"}
COLUMNS = ["valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "FCD/TestSF", "IntDiv",
           "Filters", "Novelty", "recon_greedy", "active_units"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="config to train (or --model)")
    parser.add_argument("--model", type=Path, help="evaluate this run folder instead of training")
    parser.add_argument("--budget", default="30m", help="training wall time: 45s, 30m, 2h")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "zinc.csv")
    parser.add_argument("--n-samples", type=int, default=30_000)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "quality")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default runs/quality-<config>-<time>)")
    parser.add_argument("--no-fcd", action="store_true")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write molvae evaluate's report (metrics, histograms, molecule grid) into this folder")
    parser.add_argument("--references", default="Test,TestSF", help="MOSES sets to compare with: Test, TestSF")
    args = parser.parse_args()
    if (args.config is None) == (args.model is None):
        parser.error("give exactly one of --config (train, then evaluate) and --model (evaluate a trained run)")
    names = [n.strip() for n in args.references.split(",") if n.strip()]
    if not names or set(names) - set(MOSES_FILES):
        parser.error(f"--references: a comma-separated subset of {', '.join(MOSES_FILES)}")

    from molvae import MolVAE
    from molvae.config import load_config
    from molvae.evaluation.evaluate import evaluate_samples, load_reference, load_training_set, read_smiles
    from molvae.evaluation.reconstruction import reconstruction
    from molvae.training.train import fit

    moses = ROOT / "data" / "moses"
    if args.model is None:
        config = load_config(args.config).with_overrides({"max_time": args.budget, "epochs": 1000})
        out = args.out or ROOT / "runs" / f"quality-{args.config.stem}-{datetime.now():%Y%m%d-%H%M%S}"
        started = time.perf_counter()
        step = fit(args.data, config, out=out).step
        train_seconds = time.perf_counter() - started
        vae = MolVAE.load(out)
        config_file, budget = str(args.config), args.budget
    else:
        vae = MolVAE.load(args.model)
        config, state = vae.config, vae.checkpoint.train_state
        step, train_seconds = int(state["step"]), float(state.get("elapsed_s", float("nan")))
        config_file, budget = str(args.model / "config.toml"), f"{train_seconds / 60:.0f}m"
    started = time.perf_counter()
    samples = vae.sample(args.n_samples, temperature=args.temperature, seed=0)
    sample_seconds = time.perf_counter() - started
    refs = [load_reference(name, moses / MOSES_FILES[name], fcd=not args.no_fcd) for name in names]
    started = time.perf_counter()
    evaluation = evaluate_samples(samples, refs, train=load_training_set(moses / "train.csv.gz"), fcd=not args.no_fcd)
    metrics = evaluation.metrics
    evaluate_seconds = time.perf_counter() - started
    if args.report is not None:
        from molvae.evaluation.report import write_report

        args.report.mkdir(parents=True, exist_ok=True)
        write_report(args.report, evaluation, refs)
    metrics.update(reconstruction(vae, read_smiles(moses / "test.csv.gz")[:1000]))
    name = args.config.name if args.model is None else args.model.name
    row = {
        "model": f"molvae {name}, {budget} CPU, T={args.temperature:g}",
        "date": datetime.now().isoformat(timespec="seconds"),
        "config_file": config_file,
        "config": config.to_dict(),
        "budget": budget,
        "steps": step,
        "molecules_seen": step * config.train.batch_size,
        "train_seconds": round(train_seconds, 1),
        "sample_seconds": round(sample_seconds, 1),
        "evaluate_seconds": round(evaluate_seconds, 1),
        "temperature": args.temperature,
        "n_samples": args.n_samples,
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        **metrics,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.results.with_suffix(".json"), args.results.with_suffix(".md")
    rows = json.loads(json_path.read_text()) if json_path.exists() else []
    rows.append(row)
    json_path.write_text(json.dumps(rows, indent=2) + "\n")
    lines = write_table(rows, md_path)
    print("\n".join(lines))


def write_table(rows: list[dict], md_path: Path) -> list[str]:
    """The markdown leaderboard: the fixed comparison rows, then ours in the order they were measured."""
    header = "| model | budget | steps | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 3)]
    for r in [*FIXED_ROWS, *rows]:
        cells = [f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in COLUMNS]
        lines.append(f"| {r['model']} | {r.get('budget', '')} | {r.get('steps', '')} | " + " | ".join(cells) + " |")
    md_path.write_text("# Quality benchmark (python scripts/benchmark_quality.py)\n\n" + "\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    main()
