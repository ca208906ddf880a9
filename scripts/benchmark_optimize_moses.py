"""Latent-space optimization on the project's own MOSES-test protocol (superseded as a headline by the field's
ZINC-250k sets: ``python scripts/benchmark_optimize.py --suite zinc250k``; kept for docs/optimize.md).

Usage:
  python scripts/benchmark_optimize_moses.py --model RUN [--budget 2000] [--methods gradient bo random]
         [--n-constrained 800] [--calls-per-molecule 20] [--bo-starts 50] [--results docs/optimize]

- Unconstrained: for penalized logP and QED, the best three molecules each method finds with ``--budget`` oracle
  calls. gradient starts from 50 random training molecules; random draws from the prior; bo searches the prior box.
- Constrained: the ``--n-constrained`` molecules of lowest penalized logP in the MOSES test set; for delta 0.4 and 0.6,
  each method gets ``--calls-per-molecule`` oracle calls per molecule; mean improvement (over successes), mean
  similarity and success rate (a molecule is a success when a different molecule with higher penalized logP and
  Tanimoto >= delta was found). BO runs per molecule and is slow: it gets the first ``--bo-starts`` molecules only.
  Random search draws up to ``--steps-constrained`` rounds (refused draws cost no oracle call, so it can spend its
  budget); gradient paths take up to as many steps.
The gradient method needs a property predictor with logP, qed and SAS: with a model that has none, one is fitted
first on ``--data`` (``MolVAE.fit_properties``). Penalized logP is logP - SA - ring penalty, each standardized with
the JT-VAE ZINC-250k statistics (``molvae.chemistry.chem.penalized_logp``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "zinc.csv")
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=["gradient", "bo", "random"])
    parser.add_argument("--objectives", nargs="+", default=["penalized_logp", "qed"],
                        help="unconstrained objectives (none: --objectives none)")
    parser.add_argument("--n-constrained", type=int, default=800, help="0: no constrained part")
    parser.add_argument("--calls-per-molecule", type=int, default=20)
    parser.add_argument("--bo-starts", type=int, default=50)
    parser.add_argument("--steps-constrained", type=int, default=100,
                        help="rounds of random search / gradient steps per molecule (constrained)")
    parser.add_argument("--bo-batch", type=int, default=64, help="BO candidates decoded per GP fit (unconstrained)")
    parser.add_argument("--deltas", nargs="+", type=float, default=[0.4, 0.6])
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "optimize")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-molecules", type=int, default=50_000, help="molecules to fit a missing predictor on")
    parser.add_argument("--fit-epochs", type=int, default=100)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from molvae import MolVAE
    from molvae.optimization.optimize import best_molecules

    vae = MolVAE.load(args.model)
    if vae.model.property_head is None and "gradient" in args.methods:
        errors = vae.fit_properties(args.data, "logP,qed,SAS", max_molecules=args.fit_molecules,
                                    epochs=args.fit_epochs, seed=args.seed)
        print("fitted a property predictor:", {k: round(v["r2"], 3) for k, v in errors.items()}, "(R^2)")
    train = pd.read_csv(args.data).smiles.tolist()
    rng = np.random.default_rng(args.seed)
    gradient_starts = [train[i] for i in rng.choice(len(train), 50, replace=False)]
    weights = args.model if args.model.is_file() else args.model / "best.safetensors"
    report: dict = {"model": str(args.model), "model_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                    "budget": args.budget, "unconstrained": {}, "constrained": {}}

    objectives = [o for o in args.objectives if o != "none"]
    lines = [f"## Unconstrained (best three, oracle budget {args.budget})", "",
             "| objective | method | 1st | 2nd | 3rd | oracle calls | seconds | molecules |",
             "|---|---|---|---|---|---|---|---|"] if objectives else []
    for objective in objectives:
        for method in args.methods:
            start = gradient_starts if method == "gradient" else None
            began = time.perf_counter()
            frame = vae.optimize(objective, start=start, method=method, budget=args.budget, n_steps=10_000,
                                 seed=args.seed, progress=True, radius=1.0, batch=args.bo_batch)
            seconds = time.perf_counter() - began
            best = best_molecules(frame, 3)
            scores = [f"{s:.3f}" for s in best.score] + [""] * (3 - len(best))
            report["unconstrained"][f"{objective}/{method}"] = {
                "best": best[["smiles", "score"]].to_dict("records"), "oracle_calls": frame.attrs["oracle_calls"],
                "left_out": frame.attrs["left_out"], "seconds": round(seconds, 1)}
            lines.append(f"| {objective} | {method} | " + " | ".join(scores) + f" | {frame.attrs['oracle_calls']} | "
                         f"{seconds:.0f} | " + ", ".join(f"`{s}`" for s in best.smiles) + " |")
            print(lines[-1], flush=True)

    if args.n_constrained > 0:
        constrained(vae, args, report, lines)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    header = (f"# Latent optimization benchmark (scripts/benchmark_optimize_moses.py)\n\nModel: `{args.model}` (sha256 "
              f"{report['model_sha256'][:16]}...)\n\n")
    args.results.with_suffix(".md").write_text(header + "\n".join(lines) + "\n")
    print("\n".join(lines))


def constrained(vae, args: argparse.Namespace, report: dict, lines: list[str]) -> None:
    """The JT-VAE protocol: each method and delta on the lowest-penalized-logP MOSES test molecules."""
    from molvae.chemistry import chem
    from molvae.evaluation.evaluate import read_smiles
    from molvae.optimization.optimize import improvement_summary

    test = read_smiles(ROOT / "data" / "moses" / "test.csv.gz")
    scored = [(chem.penalized_logp(m), s) for s in test if (m := chem.to_mol(s)) is not None]
    lowest = [s for _, s in sorted(scored)[: args.n_constrained]]
    lines += ["", f"## Constrained ({len(lowest)} lowest penalized logP molecules of the MOSES test set, "
              f"{args.calls_per_molecule} oracle calls each)", "",
              "| method | delta | molecules | improvement (mean +- sd) | similarity | success | seconds |",
              "|---|---|---|---|---|---|---|"]
    for method in args.methods:
        starts = lowest[: args.bo_starts] if method == "bo" else lowest
        for delta in args.deltas:
            began = time.perf_counter()
            frame = vae.optimize("penalized_logp", start=starts, method=method, similarity=delta,
                                 budget=args.calls_per_molecule * len(starts), n_steps=args.steps_constrained,
                                 seed=args.seed, progress=True, radius=0.5, batch=4)
            frame = frame[frame.smiles != frame.start]
            summary = improvement_summary(frame, starts)
            seconds = time.perf_counter() - began
            report["constrained"][f"{method}/{delta}"] = {**summary, "seconds": round(seconds, 1)}
            lines.append(f"| {method} | {delta} | {summary['n_start']} | {summary['mean_improvement']:.2f} +- "
                         f"{summary['std_improvement']:.2f} | {summary['mean_similarity']:.2f} | "
                         f"{summary['success']:.1%} | {seconds:.0f} |")
            print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
