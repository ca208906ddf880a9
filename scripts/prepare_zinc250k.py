"""Fine-tuning data for the ``zinc250k`` bundled model: JT-VAE's ZINC-250k validation split with the property columns
the bundled model's predictor reads (so fine-tuning keeps it for gradient search).

Usage:
  python scripts/prepare_zinc250k.py ../shared/datasets/zinc250k_valid24k.txt runs/zinc250k_valid24k.csv
  python scripts/prepare_zinc250k.py ../shared/datasets/zinc250k_train75k.txt runs/zinc250k_train70k.csv --holdout 5000

``--holdout N`` leaves out the last N molecules of the source: the pool the optimization benchmarks' validation
starts are drawn from (scripts/make_validation_starts.py), which no zinc250k model may train on.

Writes ``smiles,logP,qed,SAS`` (RDKit Crippen logP, QED and the SA score of each molecule exactly as written: charged
amines and stereocentres kept). Molecules RDKit cannot read are left out and counted on stderr. Never run this on a
benchmark test set: the 800 test molecules must stay unseen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="one SMILES a line")
    parser.add_argument("out", type=Path, help="CSV to write")
    parser.add_argument("--holdout", type=int, default=0, help="leave out the last N molecules")
    args = parser.parse_args()

    from molvae.chemistry.scoring import score_smiles

    smiles = [line.split()[0] for line in args.source.read_text().splitlines() if line.strip()]
    smiles = smiles[: len(smiles) - args.holdout] if args.holdout else smiles
    table = score_smiles(smiles, progress=True)
    kept = table[table.valid]
    out = kept[["smiles", "logP", "qed", "SA"]].rename(columns={"SA": "SAS"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, float_format="%.4f")
    print(f"{len(out)} of {len(smiles)} molecules written to {args.out} ({len(smiles) - len(out)} unreadable)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
