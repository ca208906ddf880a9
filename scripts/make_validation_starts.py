"""Validation start sets for the ZINC-250k optimization benchmarks: settings of the search are chosen on these, never
on the two 800-molecule test sets.

The last ``--holdout`` molecules of ``zinc250k_train75k.txt`` are held out of every zinc250k model's training
(``prepare_zinc250k.py --holdout``), so the sets drawn from them are as unseen as the test sets. Built the way the
test sets were: ``--n`` molecules drawn by seed from the 16% of lowest penalized logP (JT-VAE's 800 are the lowest
16% of its ~5,000 test molecules) and ``--n`` molecules with QED in [0.7, 0.8) drawn by seed (HierG2G's QED task).

Usage: python scripts/make_validation_starts.py ../shared/datasets/zinc250k_train75k.txt data/benchmarks
       [--holdout 5000] [--n 200] [--seed 0]
Writes zinc250k_plogp_valid200.txt and zinc250k_qed_valid200.txt (one SMILES a line, as written in the source).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from molvae.chemistry import chem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--holdout", type=int, default=5000)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lines = [line.split()[0] for line in args.source.read_text().splitlines() if line.strip()]
    held = lines[-args.holdout:]
    scored = []
    for smiles in held:
        mol = chem.to_mol(smiles)
        if mol is not None:
            scored.append((chem.penalized_logp(mol), chem.qed(mol), smiles))
    low = [s for _, _, s in sorted(scored, key=lambda r: r[0])[: round(0.16 * len(scored))]]
    lowest = random.Random(args.seed).sample(low, min(args.n, len(low)))
    window = [s for _, q, s in scored if 0.7 <= q < 0.8]
    qed = random.Random(args.seed).sample(window, min(args.n, len(window)))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, chosen in (("plogp", lowest), ("qed", qed)):
        path = args.out_dir / f"zinc250k_{name}_valid{args.n}.txt"
        path.write_text("\n".join(chosen) + "\n")
        print(f"{path}: {len(chosen)} molecules")


if __name__ == "__main__":
    main()
