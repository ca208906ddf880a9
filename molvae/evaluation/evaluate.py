"""Evaluate generated molecules against reference sets (MOSES metrics), with reference-side work cached.

``evaluate_samples(smiles, references={"Test": path, ...}, train=path)`` returns the flat metric dict of MOSES'
``get_all_metrics`` (valid, unique@1000, unique@10000, FCD/<ref>, SNN/<ref>, Frag/<ref>, Scaf/<ref>, IntDiv,
IntDiv2, Filters, logP/<ref>, SA/<ref>, QED/<ref>, weight/<ref>, Novelty).
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molvae.chemistry import chem
from molvae.errors import ConfigError, DataError
from molvae.evaluation.metrics import (
    MORGAN_BITS,
    PROPERTIES,
    Features,
    compare,
    describe,
    fraction_valid,
    internal_diversity,
    novelty,
    unique_at,
)
from molvae.outputs import cache_dir, write_cache
from molvae.smiles.files import file_sha256, read_rows

CACHE_VERSION = 1


@dataclass
class Reference:
    """A reference set's features (and ChemNet statistics for FCD, when fcd_torch is installed)."""

    name: str
    path: Path
    features: Features
    fcd: dict[str, np.ndarray] | None


def _fcd_model(n_jobs: int):  # noqa: ANN202
    try:
        from fcd_torch import FCD
    except ImportError as exc:
        raise ConfigError("FCD needs the optional package fcd_torch: pip install 'molvae[metrics]' "
                          "(or pass fcd=False / --no-fcd)") from exc
    return FCD(device="cpu", n_jobs=max(1, n_jobs), batch_size=512)


def chemnet_stats(model, smiles: Sequence[str], chunk: int = 5000) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Mean (512,) and covariance (512, 512) of ChemNet activations, streamed over chunks of SMILES.

    fcd_torch's own ``precalc`` holds everything at once (4 GB peak RSS for 20k SMILES, measured), which does not fit
    a 176k reference set in 24 GB; the sums here give the same mean and ``np.cov`` (ddof = 1) in bounded memory.
    """
    n, total, outer = 0, np.zeros(512), np.zeros((512, 512))
    for start in range(0, len(smiles), chunk):
        act = np.asarray(model.get_predictions(list(smiles[start : start + chunk])), dtype=np.float64)  # (b, 512)
        n += len(act)
        total += act.sum(0)
        outer += act.T @ act
    mu = total / n
    return {"mu": mu, "sigma": (outer - n * np.outer(mu, mu)) / (n - 1)}


def _save_reference(target: Path, ref: Reference) -> None:
    f = ref.features
    arrays = {"fingerprints": np.packbits(f.fingerprints, axis=1), "passes": f.passes,
              **{f"prop_{k}": v for k, v in f.properties.items()}}
    if ref.fcd is not None:
        arrays.update(fcd_mu=ref.fcd["mu"], fcd_sigma=ref.fcd["sigma"])
    meta = {"version": CACHE_VERSION, "fragments": dict(f.fragments), "scaffolds": dict(f.scaffolds)}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    write_cache(target, buffer.getvalue())  # refused by the system: a warning, the evaluation goes on


def _load_reference(target: Path, name: str, path: Path, need_fcd: bool) -> Reference | None:
    try:
        with np.load(target) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            if meta["version"] != CACHE_VERSION or (need_fcd and "fcd_mu" not in z):
                return None
            features = Features(
                fingerprints=np.unpackbits(z["fingerprints"], axis=1)[:, :MORGAN_BITS],
                fragments=Counter(meta["fragments"]),
                scaffolds=Counter(meta["scaffolds"]),
                passes=z["passes"],
                properties={k: z[f"prop_{k}"] for k in PROPERTIES},
            )
            fcd = {"mu": z["fcd_mu"], "sigma": z["fcd_sigma"]} if "fcd_mu" in z else None
            return Reference(name, path, features, fcd)
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None


def load_reference(name: str, path: str | Path, n_jobs: int = 0, fcd: bool = True,
                   progress: bool = False) -> Reference:
    """Features of the valid molecules of a SMILES file, cached by the file's content."""
    path = Path(path)
    _, rows = read_rows(path)
    target = cache_dir() / "reference" / f"{file_sha256(path)[:32]}.npz"
    cached = _load_reference(target, name, path, fcd) if target.exists() else None
    if cached is not None:
        return cached
    raws = [raw for _, raw in rows]
    canonical = chem.canonicalize_many(raws)
    smiles = [c for c in canonical if c is not None]
    if not smiles:
        raise DataError(f"{path}: no valid molecule in the reference set")
    features = describe(smiles, n_jobs=n_jobs, progress=progress, filters=False)
    # ChemNet reads strings: give it the reference as written (as MOSES does), valid rows only
    stats = chemnet_stats(_fcd_model(n_jobs), [r for r, c in zip(raws, canonical) if c is not None]) if fcd else None
    ref = Reference(name, path, features, {k: np.asarray(v) for k, v in stats.items()} if stats else None)
    _save_reference(target, ref)
    return ref


def read_smiles(path: str | Path) -> list[str]:
    """The raw SMILES column of a file, every row kept (blank rows as '')."""
    return [raw for _, raw in read_rows(path)[1]]


@dataclass
class Evaluation:
    """Metrics of a generated set, with the valid canonical molecules and their features (for reports)."""

    metrics: dict[str, float]
    canonical: list[str]
    features: Features | None


def load_training_set(path: str | Path) -> set[str]:
    """Canonical SMILES of a training file (cached like any corpus; long molecules kept)."""
    from molvae.smiles.corpus import load_corpus

    return set(load_corpus(path, max_length=1000).smiles)


def evaluate_samples(
    smiles: Sequence[str],
    references: Sequence[Reference] = (),
    train: set[str] | None = None,
    n_jobs: int = 0,
    fcd: bool = True,
    progress: bool = False,
) -> Evaluation:
    """The MOSES metric set of generated SMILES (invalid ones included) against each reference."""
    start = time.perf_counter()
    if not smiles:
        raise ConfigError("no generated molecules to evaluate")
    out: dict[str, float] = {"valid": fraction_valid(smiles)}
    canonical = [c for c in chem.canonicalize_many([s or "" for s in smiles]) if c is not None]
    out["unique@1000"] = unique_at(canonical, 1000)
    out["unique@10000"] = unique_at(canonical, 10000)
    if not canonical:
        return Evaluation(out, canonical, None)
    generated = describe(canonical, n_jobs=n_jobs, progress=progress)
    if fcd and references:
        missing = [ref.name for ref in references if ref.fcd is None]
        if missing:
            raise ConfigError(f"reference(s) {missing} were loaded without FCD statistics")
        model = _fcd_model(n_jobs)
        generated_stats = chemnet_stats(model, canonical)  # once, whatever the number of references
    for ref in references:
        if fcd:
            out[f"FCD/{ref.name}"] = float(model.metric(ref.fcd, generated_stats))
        out.update(compare(generated, ref.features, ref.name))
    out["IntDiv"] = internal_diversity(generated.fingerprints, 1)
    out["IntDiv2"] = internal_diversity(generated.fingerprints, 2)
    out["Filters"] = float(generated.passes.mean())
    if train is not None:
        out["Novelty"] = novelty(canonical, train)
    out["seconds"] = time.perf_counter() - start
    return Evaluation({k: float(v) for k, v in out.items()}, canonical, generated)
