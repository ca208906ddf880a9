"""Evaluation reports: metrics.json, metrics.md, property histograms and a grid of generated molecules (PNG)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from molvae.evaluation.evaluate import Evaluation, Reference
from molvae.evaluation.metrics import PROPERTIES
from molvae.outputs import atomic_write


def markdown_table(metrics: dict[str, float]) -> str:
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {'nan' if isinstance(v, float) and math.isnan(v) else f'{v:.4f}'} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"


def _png(fig) -> bytes:  # noqa: ANN001
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def write_report(folder: Path, evaluation: Evaluation, references: list[Reference], seed: int = 0) -> list[Path]:
    """Write the report files into ``folder`` (which must exist); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rdkit.Chem import Draw

    from molvae.chemistry.chem import to_mol

    written = [folder / "metrics.json", folder / "metrics.md"]
    atomic_write(written[0], json.dumps(evaluation.metrics, indent=2).encode())
    atomic_write(written[1], markdown_table(evaluation.metrics).encode())
    if evaluation.features is None:
        return written
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(4 * len(PROPERTIES), 3.2))
    for ax, name in zip(axes, PROPERTIES):
        values = [evaluation.features.properties[name]] + [r.features.properties[name] for r in references]
        bins = np.histogram_bin_edges(np.concatenate(values), bins=40)
        ax.hist(values[0], bins=bins, density=True, alpha=0.6, label="generated")
        for ref, vals in zip(references, values[1:]):
            ax.hist(vals, bins=bins, density=True, histtype="step", lw=1.5, label=ref.name)
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(folder / "histograms.png")
    atomic_write(written[-1], _png(fig))
    distinct = list(dict.fromkeys(evaluation.canonical))
    pick = np.random.default_rng(seed).permutation(len(distinct))[:24]
    mols = [to_mol(distinct[i]) for i in sorted(pick)]
    image = Draw.MolsToGridImage(mols, molsPerRow=6, subImgSize=(220, 180))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    written.append(folder / "molecules.png")
    atomic_write(written[-1], buffer.getvalue())
    return written
