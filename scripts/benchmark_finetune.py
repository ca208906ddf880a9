"""Fine-tuning on a focused set, measured: the bundled model, the bundled model fine-tuned for N CPU-minutes, and a
model trained from scratch on the same set for the same N minutes, each judged against a held-out part of the set.

Usage: ``python scripts/benchmark_finetune.py [--data data/finetune/tnks2.csv] [--minutes 10] [--n 2000]
[--work runs/finetune-bench] [--json docs/finetune.json] [--markdown docs/finetune.md]``

The set is split by seed into a training part (80%) and a held-out part (20%). Figures per model, from ``--n``
prior samples at the model's card temperature (the bundled model's for the fine-tuned one):
valid; FCD, SNN and Scaf against the held-out part (``molvae.evaluation``); the share of valid samples whose
Bemis-Murcko scaffold is one of the set's; novelty against the training part; the share of valid samples that
carry stereocentres, and how many of the samples written with stereo marks are valid.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def split(data: Path, work: Path, seed: int) -> tuple[Path, Path]:
    frame = pd.read_csv(data)
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(0.8 * len(frame))
    train, held = work / "train.csv", work / "held_out.csv"
    frame.iloc[np.sort(order[:cut])].to_csv(train, index=False)
    frame.iloc[np.sort(order[cut:])].to_csv(held, index=False)
    return train, held


def train(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as handle:
        subprocess.run([sys.executable, "-m", "molvae", "train", *args], check=True, stderr=handle, cwd=ROOT)
    return time.perf_counter() - start


def judge(name: str, model: str | None, temperature: float | None, n: int, train_csv: Path, held: Path,
          seconds: float | None) -> dict[str, float | str]:
    from rdkit import Chem

    from molvae import MolVAE
    from molvae.chemistry import chem
    from molvae.evaluation.evaluate import evaluate_samples, load_reference
    from molvae.evaluation.metrics import scaffold

    vae = MolVAE.load(model)
    samples = vae.sample(n, temperature=temperature, seed=7)
    reference = load_reference("Held", held)
    result = evaluate_samples(samples, [reference], train=set(chem.canonicalize_many(
        pd.read_csv(train_csv).iloc[:, 0].tolist())), n_jobs=1)
    whole = pd.concat([pd.read_csv(train_csv), pd.read_csv(held)]).iloc[:, 0].tolist()
    set_scaffolds = {scaffold(m, min_rings=1) for m in map(chem.to_mol, whole) if m is not None} - {None}
    valid = [c for c in chem.canonicalize_many(samples) if c is not None]
    mols = [Chem.MolFromSmiles(c) for c in valid]
    with_scaffold = np.mean([scaffold(m, min_rings=1) in set_scaffolds for m in mols]) if mols else 0.0
    stereo_written = [s for s in samples if "@" in s or "/" in s or "\\" in s]
    stereo_valid = [s for s in stereo_written if chem.is_valid(s)]
    m = result.metrics
    return {"model": name, "valid": m["valid"], "FCD/held-out": m.get("FCD/Held", float("nan")),
            "SNN/held-out": m.get("SNN/Held", float("nan")), "Scaf/held-out": m.get("Scaf/Held", float("nan")),
            "with set scaffold": float(with_scaffold), "novel vs train part": m.get("Novelty", float("nan")),
            "with stereo (of valid)": float(np.mean(["@" in c for c in valid])) if valid else 0.0,
            "stereo strings valid": len(stereo_valid) / max(1, len(stereo_written)),
            "training s": round(seconds, 1) if seconds is not None else "", "temperature": vae.sample_temperature
            if temperature is None else temperature}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "finetune" / "tnks2.csv")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "finetune-bench")
    parser.add_argument("--json", type=Path, default=None, help="Rows of models not rerun are kept from this file.")
    parser.add_argument("--models", default="bundled,fine-tuned,scratch", type=lambda s: s.split(","),
                        help="Which rows to (re)measure.")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    from molvae import MolVAE

    args.work.mkdir(parents=True, exist_ok=True)
    train_csv, held = split(args.data, args.work, args.seed)
    budget = f"{args.minutes:g}m"
    card_t = MolVAE.load().sample_temperature
    previous = json.loads(args.json.read_text()) if args.json and args.json.exists() else []
    rows = {row["model"]: row for row in previous}
    names = {"bundled": "bundled (no fine-tuning)", "fine-tuned": f"bundled fine-tuned {budget}",
             "scratch": f"from scratch {budget}"}
    if "bundled" in args.models:
        rows[names["bundled"]] = judge(names["bundled"], None, None, args.n, train_csv, held, None)
    for kind in ("fine-tuned", "scratch"):
        if kind not in args.models:
            continue
        folder = args.work / kind
        if folder.exists():
            subprocess.run(["rm", "-r", str(folder)], check=True)
        start = ["--init-from", "bundled"] if kind == "fine-tuned" else ["--epochs", "100000", "--max-steps", "0",
                                                                          "--val-every", "200"]
        seconds = train([str(train_csv), *start, "--out", str(folder), "--max-time", budget, "--threads",
                         str(args.threads), "--quiet"], args.work / f"{kind}.log")
        rows[names[kind]] = judge(names[kind], str(folder), card_t, args.n, train_csv, held, seconds)
    rows = [rows[names[k]] for k in ("bundled", "fine-tuned", "scratch") if names[k] in rows]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.markdown:
        header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
        body = "".join("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |\n"
                       for r in table.itertuples(index=False))
        args.markdown.write_text(header + body)


if __name__ == "__main__":
    main()
