"""How many molecules of public sets a model can encode, by standardization policy, and what stops the rest.

Usage: ``python scripts/benchmark_standardize.py FILE [FILE ...] [--model PATH] [--json OUT]``; each FILE is a
.csv/.smi/.txt of SMILES (first column, or the 'smiles' column). Prints, per file and policy (none, auto, always):
the share that encodes, the changes made, and the most common missing tokens of the rest.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", default=None, help="Checkpoint or run folder (default: the bundled model).")
    parser.add_argument("--smiles-column", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from molvae import MolVAE
    from molvae.smiles.files import read_rows

    vae = MolVAE.load(args.model)
    report = []
    for path in args.files:
        smiles = [raw for _, raw in read_rows(path, args.smiles_column)[1]]
        for policy in ("none", "auto", "always"):
            start = time.perf_counter()
            results = vae.standardize(smiles, policy)
            seconds = time.perf_counter() - start
            ok = sum(r.ok for r in results)
            changes = Counter(c for r in results if r.ok for c in r.changes)
            missing = Counter(t for r in results if not r.ok for t in set(r.missing))
            row = {"file": str(path), "policy": policy, "n": len(results), "encodable": ok / len(results),
                   "changes": dict(changes), "missing_top": missing.most_common(10),
                   "invalid": sum(r.smiles is None for r in results), "ms_per_molecule": 1000 * seconds / len(results)}
            report.append(row)
            print(f"{path.name:<32} {policy:<7} encodable {ok}/{len(results)} = {row['encodable']:.1%}  "
                  f"changes {dict(changes)}  missing {missing.most_common(6)}  ({row['ms_per_molecule']:.2f} ms/mol)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
