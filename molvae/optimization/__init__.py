"""Latent-space optimization: objectives and their oracle, search bookkeeping, gradient / BO / random search.

The optimizers take any object that satisfies ``molvae.model.latent.LatentModel`` (``MolVAE`` does), never the API
class itself."""

from molvae.optimization.objectives import OBJECTIVES, Oracle, build_objective, load_objective
from molvae.optimization.optimize import METHODS, best_molecules, improvement_summary
from molvae.optimization.search_run import SearchRun

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "Oracle",
    "SearchRun",
    "best_molecules",
    "build_objective",
    "improvement_summary",
    "load_objective",
]
