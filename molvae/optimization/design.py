"""Goal-directed design without start molecules (``optimize(..., method="local")`` with no ``start``): a
trust-region search in latent space that learns from every call.

1. A first design: codes drawn from the model's own sampling source (its fitted prior when it has one), decoded, and
   ``n_init`` distinct molecules scored.
2. Rounds until the budget is spent: ``points`` codes are drawn around the codes of the best molecules found so far
   (``N_CENTRES``) at a ladder of radii (``RADII``), plus a share drawn afresh from the model's source (restarts);
   all are decoded (no oracle call), molecules already scored are dropped, the rest are ranked by the expected
   improvement under a Tanimoto GP fitted to every score paid for (``surrogate.TanimotoGP``), and the oracle scores
   the ``batch`` best.
A molecule is never scored twice (the oracle's cache and the round's filter). A decoded molecule's code is the point it
was decoded from, so a centre always decodes back to its molecule. Shapes: P points, Z latent.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from molvae.chemistry import chem
from molvae.optimization.local_search import draws_around
from molvae.optimization.search_run import Candidate, SearchRun
from molvae.optimization.surrogate import TanimotoGP, expected_improvement

RADII = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)  # distances of the draws from a centre (units of a latent sd)
N_CENTRES = 10  # best molecules whose codes the next round draws around
FRESH_SHARE = 0.1  # share of a round's points drawn from the model's source instead (restarts)
STALL_ROUNDS = 20  # rounds in a row without a new molecule end the search


def design(run: SearchRun, n_init: int, batch: int, points: int, generator: torch.Generator) -> None:
    """Spend the oracle's budget: a first design of ``n_init`` molecules, then rounds of ``points`` decoded codes and
    ``batch`` calls each (see the module docstring). Ends when the budget is spent (``BudgetSpent``) or nothing new
    is decoded for ``STALL_ROUNDS`` rounds."""
    vae, source = run.vae, run.vae.sample_source
    scored: list[tuple[float, torch.Tensor, object]] = []  # (score, code, fingerprint)
    seen: set[str] = set()
    first = _fresh(run, vae.draw_z(max(points, 2 * n_init), generator, source), seen, 0)
    for candidate in first[:n_init]:
        _score(run, candidate, scored)
    gp, idle, step = TanimotoGP(), 0, 0
    while idle < STALL_ROUNDS:
        step += 1
        n_fresh = int(round(FRESH_SHARE * points)) if scored else points
        centres = [z for _, z, _ in sorted(scored, key=lambda e: -e[0])[:N_CENTRES]]
        parts = [vae.draw_z(n_fresh, generator, source)] if n_fresh else []
        if centres:
            parts.append(draws_around(centres, points - n_fresh, generator, RADII))
        candidates = _fresh(run, torch.cat(parts), seen, step)
        idle = 0 if candidates else idle + 1
        for candidate, fingerprint in _ranked(candidates, scored, gp)[:batch]:
            _score(run, candidate, scored, fingerprint)


def _fresh(run: SearchRun, z: torch.Tensor, seen: set[str], step: int) -> list[Candidate]:
    """The decoded molecules of z (P, Z) that meet the constraints and were never proposed before (first code
    kept)."""
    out = []
    run.decoded += len(z)
    for candidate in run.check(z, [-1] * len(z), step):
        if candidate is not None and candidate.smiles not in seen:
            seen.add(candidate.smiles)
            out.append(candidate)
    return out


def _fingerprint(smiles: str) -> object:
    return chem.morgan_fingerprint(chem.to_mol(smiles))


def _score(run: SearchRun, candidate: Candidate, scored: list, fingerprint: object | None = None) -> None:
    value = run.score(candidate)
    if value is not None:
        scored.append((value, candidate.z, _fingerprint(candidate.smiles) if fingerprint is None else fingerprint))


def _ranked(candidates: list[Candidate], scored: list, gp: TanimotoGP) -> list[tuple[Candidate, object | None]]:
    """(candidate, its fingerprint) by expected improvement under the GP fitted to the scores so far (as decoded,
    without fingerprints, before two scores are known)."""
    if len(scored) < 2 or not candidates:
        return [(c, None) for c in candidates]
    gp.fit([fp for _, _, fp in scored], [v for v, _, _ in scored])
    fps = [_fingerprint(c.smiles) for c in candidates]
    mean, sd = gp.predict(fps)
    ei = expected_improvement(mean, sd, max(v for v, _, _ in scored))
    order = np.lexsort((-mean, -np.nan_to_num(ei, nan=-math.inf)))  # EI first, ties by the mean
    return [(candidates[int(i)], fps[int(i)]) for i in order]
