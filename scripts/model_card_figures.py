"""Figures and figures-of-merit for the model card: a 2-D PCA map of encoded MOSES test molecules coloured by logP
and by QED, and the property predictor's error on those test molecules (against RDKit's values).

Usage: python scripts/model_card_figures.py [--model PATH] [--n 5000] [--out docs/model_card]
(without --model: the bundled default model). Needs data/moses/ (python scripts/fetch_zinc.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "model_card")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from molvae import MolVAE
    from molvae.chemistry import chem
    from molvae.evaluation.evaluate import read_smiles

    vae = MolVAE.load(args.model)
    test = read_smiles(ROOT / "data" / "moses" / "test.csv.gz")
    picked = [test[i] for i in np.random.default_rng(0).permutation(len(test))[: args.n]]
    z = vae.encode(picked, errors="skip")
    keep = ~torch.isnan(z).any(dim=1)
    z = z[keep]
    smiles = [s for s, k in zip(picked, keep.tolist()) if k]
    mols = [chem.to_mol(s) for s in smiles]
    centred = z - z.mean(0)
    _, singular, v = torch.linalg.svd(centred, full_matrices=False)
    xy = (centred @ v[:2].T).numpy()
    explained = (singular[:2] ** 2 / (singular**2).sum()).tolist()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, (name, values) in zip(axes, [("logP", [chem.logp(m) for m in mols]), ("QED", [chem.qed(m) for m in mols])]):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=3, cmap="viridis")
        fig.colorbar(points, ax=ax, label=name)
        ax.set_xlabel(f"PC1 ({explained[0]:.1%} of variance)")
        ax.set_ylabel(f"PC2 ({explained[1]:.1%})")
        ax.set_title(f"{len(smiles)} MOSES test molecules, mu of q(z|x), coloured by {name}")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "pca.png", dpi=80)
    summary = {"n_encoded": len(smiles), "n_skipped": int((~keep).sum()), "pca_explained": explained,
               "property_errors_training_validation": vae.checkpoint.train_state.get("property_errors")}
    if vae.model.property_head is not None:  # the predictor on these test molecules, against RDKit's values
        from molvae.model.properties import prediction_errors

        known = {"logp": chem.logp, "qed": chem.qed, "sas": chem.sa_score, "sa": chem.sa_score}
        names = [n for n in vae.config.data.property_list if n.lower() in known]
        predicted = vae.predict_properties(smiles)
        truth = np.array([[known[n.lower()](m) for n in names] for m in mols])
        summary["property_errors_moses_test"] = prediction_errors(predicted[names].to_numpy(), truth, names)
    (args.out / "figures.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
