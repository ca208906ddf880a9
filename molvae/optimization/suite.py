"""The field's molecule-optimization benchmarks on ZINC-250k, counted the way the papers count them.

- Constrained penalized logP (JT-VAE, GCPN, HierG2G): for each of the 800 test molecules of lowest penalized logP,
  a candidate succeeds when its Tanimoto similarity to the molecule as given is >= delta and its normalized
  penalized logP (``chem.penalized_logp``) is higher; the improvement is reported over the successes (JT-VAE) and
  over all molecules with failures as 0 (HierG2G).
- QED (HierG2G): success when a candidate has similarity >= 0.4 and QED >= 0.9.
Each start molecule gets the same budget: at most ``per_start`` candidates scored by the oracle (decoded molecules
that meet the similarity constraint, the start itself excluded) from ``n_points`` decoded latent points. A start
the model cannot read, even standardized, is a failure and is marked ``readable: false``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from molvae.chemistry import chem
from molvae.errors import DataError

QED_SUCCESS = 0.9  # HierG2G's QED task: a candidate with QED >= 0.9 (and similarity >= 0.4) succeeds
OBJECTIVES = {"plogp": "penalized_logp", "qed": "qed"}
SCORERS: dict[str, Callable[[Any], float]] = {"plogp": chem.penalized_logp, "qed": chem.qed}


@dataclass(frozen=True)
class Protocol:
    """One benchmark run: a task at a similarity threshold, searched by one method with a per-molecule budget."""

    task: str  # 'plogp' | 'qed'
    delta: float  # similarity threshold to the start molecule
    method: str = "gradient"  # 'gradient' | 'local' | 'random' (molvae.optimization.optimize)
    fingerprint: str = "bits"  # 'bits' (Morgan r2, 2048) | 'counts' (JT-VAE's unhashed Morgan r2 counts)
    per_start: int = 20  # candidates scored per start molecule
    n_points: int = 120  # latent points decoded per start molecule (gradient: 30 steps x 4 points)

    @property
    def name(self) -> str:
        return f"{self.task}/{self.delta:g}/{self.fingerprint}/{self.method}"


def read_benchmark(path: str | Path) -> list[str]:
    """The start molecules of a benchmark file (first field of each line, exactly as written)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read benchmark file {path}: {exc}") from exc
    starts = [line.split()[0] for line in lines if line.strip()]
    if not starts:
        raise DataError(f"{path} holds no molecules")
    return starts


def success(task: str, start_score: float | None, score: float | None) -> bool:
    """Whether a best candidate (already within the similarity threshold) meets the task."""
    if score is None:
        return False
    if task == "qed":
        return score >= QED_SUCCESS
    return start_score is not None and score > start_score


def run_protocol(vae: Any, starts: Sequence[str], protocol: Protocol, seed: int = 0,
                 progress: bool = False) -> list[dict[str, Any]]:
    """One row per start molecule (in order, ``start`` exactly as given): its best candidate
    ``{task, delta, fingerprint, method, start, start_score, smiles, score, similarity, success, readable}``;
    ``smiles``, ``score`` and ``similarity`` are None when no candidate met the similarity threshold."""
    readable = [r.ok for r in vae.standardize(list(starts), "auto")]
    chosen = [s for s, ok in zip(starts, readable) if ok]
    neighbours = 3  # gradient: each path point and 3 draws around it are decoded, n_points in all per start
    steps = max(1, protocol.n_points // (1 + neighbours) - 1)
    frame = vae.optimize(OBJECTIVES[protocol.task], start=chosen, method=protocol.method, similarity=protocol.delta,
                         budget=len(chosen) * (protocol.per_start + 1), per_start=protocol.per_start,
                         fingerprint=protocol.fingerprint, seed=seed, progress=progress, radius=0.5,
                         neighbours=neighbours, n_steps=steps if protocol.method == "gradient" else protocol.n_points,
                         n_points=protocol.n_points if protocol.method == "local" else len(chosen))
    best = frame.sort_values("score", ascending=False, kind="stable").drop_duplicates("start").set_index("start")
    rows = []
    for given, ok in zip(starts, readable):
        mol = chem.to_mol(given)
        start_score = SCORERS[protocol.task](mol) if mol is not None else None
        canonical = chem.canonical_smiles(given)
        found = best.loc[canonical] if ok and canonical in best.index else None
        score = None if found is None else float(found.score)
        rows.append({"task": protocol.task, "delta": protocol.delta, "fingerprint": protocol.fingerprint,
                     "method": protocol.method, "start": given, "start_score": start_score,
                     "smiles": None if found is None else found.smiles, "score": score,
                     "similarity": None if found is None else float(found.similarity),
                     "success": success(protocol.task, start_score, score), "readable": ok})
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success rate and improvement (best score - start score) mean and std over the successes and over all
    molecules with failures as 0; mean similarity of the successes; how many starts the model could not read."""
    gains = np.array([r["score"] - r["start_score"] if r["success"] else 0.0 for r in rows], dtype=float)
    won = np.array([r["success"] for r in rows], dtype=bool)
    similarity = [r["similarity"] for r in rows if r["success"]]
    return {
        "n": len(rows), "unreadable": sum(not r["readable"] for r in rows), "success": float(won.mean()) if len(rows) else 0.0,
        "improvement_successes": _mean_std(gains[won]), "improvement_all": _mean_std(gains),
        "mean_similarity": float(np.mean(similarity)) if similarity else None,
    }


def _mean_std(values: np.ndarray) -> list[float | None]:
    return [float(values.mean()), float(values.std())] if len(values) else [None, None]


def rescore(row: dict[str, Any]) -> dict[str, float | None]:
    """A reported row re-scored with RDKit alone: the candidate's objective and its similarity to the start (with
    the row's fingerprint), to check a result file from outside."""
    start, mol = chem.to_mol(row["start"]), chem.to_mol(row["smiles"]) if row["smiles"] else None
    if start is None or mol is None:
        return {"score": None, "similarity": None}
    return {"score": SCORERS[row["task"]](mol), "similarity": chem.tanimoto(mol, start, row["fingerprint"])}


def paired_test(ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Whether one method beats another on the same start molecules (rows of ``run_protocol``, same order).

    penalized logP: the Wilcoxon signed-rank test on the per-molecule improvements (failures 0), one-sided (ours
    greater), normal approximation with tie and zero corrections (Pratt's zeros dropped: Wilcoxon's). QED: McNemar's
    exact test on the successes (one-sided binomial on the discordant pairs). Returns the test's name, the number of
    molecules, the mean difference (improvement or success rate) and the p-value."""
    if [r["start"] for r in ours] != [r["start"] for r in theirs]:
        raise ValueError("paired_test needs the rows of the same start molecules in the same order")
    if ours and ours[0]["task"] == "qed":
        a = [bool(r["success"]) for r in ours]
        b = [bool(r["success"]) for r in theirs]
        wins, losses = sum(x and not y for x, y in zip(a, b)), sum(y and not x for x, y in zip(a, b))
        n = wins + losses
        p = sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n if n else 1.0
        return {"test": "McNemar exact (one-sided)", "n": len(a), "wins": wins, "losses": losses,
                "mean_difference": (sum(a) - sum(b)) / max(1, len(a)), "p": p}
    gain = lambda r: r["score"] - r["start_score"] if r["success"] else 0.0  # noqa: E731
    diffs = np.array([gain(x) - gain(y) for x, y in zip(ours, theirs)], dtype=float)
    return {"test": "Wilcoxon signed-rank (one-sided)", "n": len(diffs), "wins": int((diffs > 0).sum()),
            "losses": int((diffs < 0).sum()), "mean_difference": float(diffs.mean()) if len(diffs) else 0.0,
            "p": _wilcoxon_greater(diffs)}


def _wilcoxon_greater(diffs: np.ndarray) -> float:
    """One-sided p-value that the differences are centred above 0 (signed-rank statistic, normal approximation with
    the tie correction of the variance and a continuity correction)."""
    d = diffs[diffs != 0]
    n = len(d)
    if n == 0:
        return 1.0
    order = np.argsort(np.abs(d), kind="stable")
    ranks = np.empty(n)
    values = np.abs(d)[order]
    i = 0
    ties = 0.0
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j + 2) / 2
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    w_plus = float(ranks[d > 0].sum())
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
    if sd == 0:
        return 1.0
    z = (w_plus - mean - 0.5) / sd
    return 0.5 * math.erfc(z / math.sqrt(2))
