"""The PMO benchmark (Gao et al. 2022, "Sample efficiency matters"): goal-directed design under a budget of oracle
calls, scored by the area under the curve of the top-10 mean against the calls spent.

The 20 tasks that need no downloaded model are GuacaMol's scoring functions (PMO's oracles are TDC's copies of
them); they come from the ``guacamol`` package (0.5.5, installed with ``pip install --no-deps guacamol==0.5.5``:
its requirements pin ``rdkit-pypi`` and ``FCD``, which would break this environment). Two imports of guacamol fail
with today's SciPy and without FCD; ``guacamol_tasks`` supplies both (``scipy.histogram`` is numpy's; the FCD
module is needed only by guacamol's distribution benchmarks, never imported by these tasks' scoring).

``top_auc`` is PMO's metric: the top-10 mean logged every ``freq`` calls, integrated by the trapezoid rule, and (a run
that ends before its budget) extended with its last value to the budget, divided by the budget.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence

import numpy as np

from molvae.errors import ConfigError

# PMO task -> GuacaMol benchmark factory (name in guacamol.standard_benchmarks) and its arguments
SIMILARITY = {
    "albuterol_similarity": ("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "Albuterol", "FCFP4", 0.75, False),
    "mestranol_similarity": ("COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "Mestranol", "AP", 0.75,
                             False),
    "celecoxib_rediscovery": ("CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F", "Celecoxib", "ECFP4", 1.0,
                              True),
    "troglitazone_rediscovery": ("Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O", "Troglitazone", "ECFP4", 1.0,
                                 True),
    "thiothixene_rediscovery": ("CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1", "Thiothixene", "ECFP4", 1.0,
                                True),
}
FACTORIES = {
    "amlodipine_mpo": "amlodipine_rings", "deco_hop": "decoration_hop", "fexofenadine_mpo": "hard_fexofenadine",
    "isomers_c7h8n2o2": "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl": "isomers_c9h10n2o2pf2cl",
    "median1": "median_camphor_menthol", "median2": "median_tadalafil_sildenafil",
    "osimertinib_mpo": "hard_osimertinib", "perindopril_mpo": "perindopril_rings", "qed": "qed_benchmark",
    "ranolazine_mpo": "ranolazine_mpo", "scaffold_hop": "scaffold_hop", "sitagliptin_mpo": "sitagliptin_replacement",
    "valsartan_smarts": "valsartan_smarts", "zaleplon_mpo": "zaleplon_with_other_formula",
}
TASKS = tuple(sorted([*SIMILARITY, *FACTORIES]))  # the 20 PMO tasks without a downloaded model


def _guacamol() -> types.ModuleType:
    """``guacamol.standard_benchmarks``, with the two imports it needs supplied when missing."""
    import scipy

    if not hasattr(scipy, "histogram"):  # removed from SciPy; guacamol.utils.chemistry imports it
        scipy.histogram = np.histogram
    if "fcd" not in sys.modules:
        try:
            import fcd  # noqa: F401
        except ImportError:  # only guacamol's Frechet benchmark uses it; imported, never called here
            sys.modules["fcd"] = types.ModuleType("fcd")
    try:
        from guacamol import standard_benchmarks
    except ImportError as exc:
        raise ConfigError("the PMO tasks need GuacaMol's scoring functions: pip install --no-deps guacamol==0.5.5 "
                          f"joblib ({exc})") from exc
    return standard_benchmarks


def guacamol_tasks(names: Sequence[str] | None = None) -> dict[str, Callable[[str], float]]:
    """f(smiles) -> score in [0, 1] for each PMO task named (all 20 by default); ConfigError for an unknown name."""
    names = list(TASKS if names is None else names)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ConfigError(f"unknown PMO task(s) {unknown}; expected some of {list(TASKS)}")
    benchmarks = _guacamol()
    out = {}
    for name in names:
        if name in SIMILARITY:
            smiles, label, fp, threshold, rediscovery = SIMILARITY[name]
            bench = benchmarks.similarity(smiles=smiles, name=label, fp_type=fp, threshold=threshold,
                                          rediscovery=rediscovery)
        else:
            bench = getattr(benchmarks, FACTORIES[name])()
        out[name] = bench.objective.score
    return out


def top_auc(scores: Sequence[float], budget: int, top_n: int = 10, freq: int = 100, finished: bool = True) -> float:
    """PMO's AUC of the top-``top_n`` mean: ``scores`` in call order (one per oracle call, unique molecules)."""
    scores = list(scores)[:budget]
    if not scores:
        return 0.0
    total, previous, called = 0.0, 0.0, 0
    for at in range(freq, min(len(scores), budget), freq):
        now = float(np.mean(sorted(scores[:at], reverse=True)[:top_n]))
        total += freq * (now + previous) / 2
        previous, called = now, at
    now = float(np.mean(sorted(scores, reverse=True)[:top_n]))
    total += (len(scores) - called) * (now + previous) / 2
    if finished and len(scores) < budget:
        total += (budget - len(scores)) * now
    return total / budget
