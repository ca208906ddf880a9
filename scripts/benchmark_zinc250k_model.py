"""How well a model reads and writes ZINC-250k's dialect: the figures of the zinc250k model card.

Usage:
  python scripts/benchmark_zinc250k_model.py --models default zinc250k [runs/X ...] [--n-samples 5000]
         [--out docs/benchmarks/zinc250k_model]

Per model, on the two public 800-molecule test sets (data/benchmarks; never trained on):
- readable: share the model can encode (standardized where needed, ``--standardize auto``); as given: share it reads
  without any change;
- greedy / beam reconstruction (``molvae.evaluation.reconstruction``: target = the molecule as the model reads it),
  and ``exact as given``: the greedy decode equals the molecule as written (charges and stereo included);
- similarity of the greedy decode to the molecule as given (Morgan r2 2048 bits, median);
- prior samples at the model's card temperature: valid, unique, share with a charged atom, share with a stereocentre.
Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {"pLogP test 800": ROOT / "data" / "benchmarks" / "zinc250k_plogp_test800.txt",
        "QED test 800": ROOT / "data" / "benchmarks" / "zinc250k_qed_test800.txt"}


def measure_set(vae, starts: list[str]) -> dict:
    from molvae.chemistry import chem
    from molvae.evaluation.reconstruction import reconstruction

    prepared = vae.standardize(starts, "auto")
    figures = reconstruction(vae, starts, k=0, beam_width=5)
    readable = [i for i, r in enumerate(prepared) if r.ok]
    decoded = vae.decode(vae.encode([starts[i] for i in readable]))
    given = [chem.canonical_smiles(starts[i]) for i in readable]
    exact = sum(d is not None and d == g for d, g in zip(decoded, given))
    sims = [chem.tanimoto(chem.to_mol(d), chem.to_mol(starts[i])) if d else 0.0 for d, i in zip(decoded, readable)]
    return {"n": len(starts), "readable": len(readable) / len(starts),
            "as_given": sum(r.ok and not r.changes for r in prepared) / len(starts),
            "recon_greedy": figures.get("recon_greedy", 0.0), "recon_beam": figures.get("recon_beam", 0.0),
            "exact_as_given": exact / len(starts),
            "median_similarity": statistics.median(sims + [0.0] * (len(starts) - len(readable)))}


def measure_samples(vae, n: int) -> dict:
    from molvae.chemistry import chem

    smiles = vae.sample(n, seed=7)
    mols = [chem.to_mol(s) for s in smiles]
    valid = [m for m in mols if m is not None]
    charged = sum(any(a.GetFormalCharge() for a in m.GetAtoms()) for m in valid)
    stereo = sum("@" in chem.Chem.MolToSmiles(m) for m in valid)
    return {"n": n, "temperature": vae.sample_temperature, "valid": len(valid) / n,
            "unique": len({chem.Chem.MolToSmiles(m) for m in valid}) / max(1, len(valid)),
            "charged": charged / max(1, len(valid)), "stereo": stereo / max(1, len(valid))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["default", "zinc250k"])
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=800, help="the first N molecules of each set (a quick look)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "zinc250k_model")
    args = parser.parse_args()

    from molvae import MolVAE
    from molvae.optimization.suite import read_benchmark

    sets = {name: read_benchmark(path)[: args.limit] for name, path in SETS.items()}
    report = {"date": time.strftime("%Y-%m-%d"), "models": {}}
    for name in args.models:
        began = time.perf_counter()
        vae = MolVAE.load(name)
        row = {label: measure_set(vae, starts) for label, starts in sets.items()}
        row["samples"] = measure_samples(vae, args.n_samples)
        row["seconds"] = round(time.perf_counter() - began, 1)
        report["models"][name] = row
        print(name, json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Reading and writing ZINC-250k ({report['date']})", "",
             f"`python scripts/benchmark_zinc250k_model.py --models {' '.join(args.models)} --n-samples {args.n_samples}`",
             "", "| model | set | readable | as given | greedy recon. | beam recon. | exact as given | median sim. |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        for label in sets:
            r = row[label]
            lines.append(f"| {name} | {label} | {r['readable']:.1%} | {r['as_given']:.1%} | "
                         f"{r['recon_greedy']:.1%} | {r['recon_beam']:.1%} | {r['exact_as_given']:.1%} | "
                         f"{r['median_similarity']:.2f} |")
    lines += ["", "| model | samples | T | valid | unique | with a charge | with a stereocentre |",
              "|---|---|---|---|---|---|---|"]
    for name, row in report["models"].items():
        s = row["samples"]
        lines.append(f"| {name} | {s['n']} | {s['temperature']:g} | {s['valid']:.1%} | {s['unique']:.1%} | "
                     f"{s['charged']:.1%} | {s['stereo']:.1%} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
