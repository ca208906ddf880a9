"""Fine-tuning data for the ``zinc250k`` bundled model: JT-VAE's ZINC-250k validation split with the property columns
the bundled model's predictor reads (so fine-tuning keeps it for gradient search).

Usage:
  python scripts/prepare_zinc250k.py ../shared/datasets/zinc250k_valid24k.txt runs/zinc250k_valid24k.csv

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
    args = parser.parse_args()

    from molvae.chemistry.scoring import score_smiles

    smiles = [line.split()[0] for line in args.source.read_text().splitlines() if line.strip()]
    table = score_smiles(smiles, progress=True)
    kept = table[table.valid]
    out = kept[["smiles", "logP", "qed", "SA"]].rename(columns={"SA": "SAS"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, float_format="%.4f")
    print(f"{len(out)} of {len(smiles)} molecules written to {args.out} ({len(smiles) - len(out)} unreadable)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
