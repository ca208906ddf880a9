"""Local search from inverted codes (``optimize(..., method="local")``): decode many, score few.

Per start molecule, in rounds:
1. Invert first (``optimization.inversion``): a code that decodes back to the start, so the points drawn around it
   decode to the start's neighbours, not to those of whatever molecule the encoder's mean decodes to.
2. Each round draws ``points`` codes around its centres at a ladder of radii (``RADII``); when the model predicts
   the objective, half of them also step uphill along the predictor's gradient (``uphill_directions``): on 40
   validation starts of the QED task this took success from 67.5% to 82.5% at 20 calls. All are decoded at
   once (no oracle call); the constraints (similarity, SA, validity) are checked on the molecules (no call either).
3. The fresh candidates are ranked: by the property predictor's estimate of the objective at each molecule's own
   code when the model has one, else by a surrogate fitted to the scores already paid for (ridge regression on the
   codes); the oracle scores the round's best ones (the budget split over the rounds).
4. The next round's centres are the start's code and its best scored candidates (a trust region that moves to what
   was found).

Counting: the oracle is called only on molecules that meet the constraints and were never scored (per start), so
``per_start`` and ``budget`` count calls the way the field's tables do; decoded points are counted in ``run.decoded``.
Shapes: n starts, Z latent, P points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

from molvae.optimization.inversion import invert
from molvae.optimization.search_run import Candidate, SearchRun

RADII = (0.08, 0.15, 0.25, 0.4, 0.6)  # distances of the draws from a centre, in units of a latent dimension's sd
N_CENTRES = 3  # a start's code and its best scored candidates: where the next round draws around
N_ROUNDS = 4  # the oracle budget of each start is spent over this many rounds


def inverted_codes(run: SearchRun, z0: torch.Tensor, ids: list[list[int]] | None) -> torch.Tensor:
    """The starts' codes (n, Z), each moved to decode back to its molecule where inversion finds such a code;
    ``ids``: the starts' token ids as the model reads them (None: z0 as it is)."""
    if ids is None:
        return z0
    padded, _ = run.vae.vocab.pad(ids)
    inversion = invert(run.vae.model, padded.to(run.vae.device), z0.to(run.vae.device), run.vae.vocab.pad_id)
    run.notes["inverted"] = int(inversion.exact.sum())
    return inversion.z.cpu()


def draws_around(centres: list[torch.Tensor], points: int, generator: torch.Generator,
                 radii: tuple[float, ...] = RADII, uphill: list[torch.Tensor] | None = None) -> torch.Tensor:
    """``points`` codes (P, Z) around the centres (each (Z,)): the centres in turn, radii from ``radii`` in turn.
    ``uphill``: a unit direction (Z,) per centre in which the objective's estimate rises; half of the draws then
    step along it as far as the isotropic draw's length (times 0.25-1.5) before the isotropic draw is added."""
    stacked = torch.stack(centres)  # (C, Z)
    which = torch.arange(points) % len(centres)
    radius = torch.tensor(radii).repeat_interleave(math.ceil(points / len(radii)))[:points]
    radius = radius[torch.randperm(points, generator=generator)]
    draws = stacked[which] + radius.unsqueeze(1) * torch.randn(points, stacked.shape[1], generator=generator)
    if uphill is None:
        return draws
    directed = torch.arange(points) % 2 == 1
    reach = radius * math.sqrt(stacked.shape[1]) * (0.25 + 1.25 * torch.rand(points, generator=generator))
    return draws + (directed * reach).unsqueeze(1) * torch.stack(uphill)[which]


def uphill_directions(estimate: Callable[[torch.Tensor], torch.Tensor], centres: torch.Tensor,
                      step: float = 1e-2) -> list[torch.Tensor]:
    """Unit directions (Z,) in which ``estimate`` rises at each centre (C, Z), by central differences (2Z
    evaluations of the predictor per centre, no oracle call)."""
    n, dim = centres.shape
    offsets = torch.eye(dim) * step  # (Z, Z)
    probes = torch.cat([centres.unsqueeze(1) + offsets, centres.unsqueeze(1) - offsets], dim=1)  # (C, 2Z, Z)
    values = estimate(probes.reshape(-1, dim)).reshape(n, 2, dim).float()
    gradient = values[:, 0] - values[:, 1]  # (C, Z), up to the factor 1 / (2 step)
    return list(gradient / gradient.norm(dim=1, keepdim=True).clamp(min=1e-12))


def _uphill_per_start(estimate: Callable[[torch.Tensor], torch.Tensor] | None,
                      centres: list[list[torch.Tensor]]) -> list[list[torch.Tensor] | None]:
    """Each start's centres' uphill directions, from one batch of predictor calls (None each without a predictor)."""
    if estimate is None:
        return [None] * len(centres)
    directions = uphill_directions(estimate, torch.stack([z for own in centres for z in own]))
    bounds = [0, *itertools.accumulate(len(own) for own in centres)]
    return [directions[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _ridge_ranker(scored: list[tuple[torch.Tensor, float]]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A ridge regression of the scores on the codes (Z,) paid for so far, or None with fewer than 3 of them."""
    if len(scored) < 3:
        return None
    x = torch.stack([z for z, _ in scored]).double()
    y = torch.tensor([s for _, s in scored], dtype=torch.float64)
    mean = x.mean(dim=0)
    xc = x - mean
    weights = torch.linalg.solve(xc.T @ xc + 1.0 * torch.eye(x.shape[1], dtype=torch.float64), xc.T @ (y - y.mean()))
    return lambda z: ((z.double() - mean) @ weights + y.mean()).float()


def local_search(run: SearchRun, z0: torch.Tensor, ids: list[list[int]] | None, points: int,
                 estimate: Callable[[torch.Tensor], torch.Tensor] | None, generator: torch.Generator,
                 calls_per_start: int) -> None:
    """Local search from the starts' codes z0 (n, Z): ``points`` decoded codes per start in all, ``calls_per_start``
    oracle calls per start in all, both spread over N_ROUNDS rounds. ``estimate``: the predictor's estimate of the
    objective from a code (B, Z) -> (B,), or None."""
    n = len(z0)
    centres_z = inverted_codes(run, z0, ids)
    seen: set[tuple[int, str]] = {(i, s) for i, s in enumerate(run.starts)}
    scored: list[list[tuple[float, torch.Tensor]]] = [[] for _ in range(n)]
    per_round = max(1, points // N_ROUNDS)
    for round_ in range(N_ROUNDS):
        centres = [[centres_z[i]] + [z for _, z in sorted(scored[i], key=lambda e: -e[0])[: N_CENTRES - 1]]
                   for i in range(n)]
        uphill = _uphill_per_start(estimate, centres)
        z = torch.cat([draws_around(c, per_round, generator, uphill=u) for c, u in zip(centres, uphill)])  # (n P, Z)
        owners = [i for i in range(n) for _ in range(per_round)]
        run.decoded += len(z)
        fresh: list[list[Candidate]] = [[] for _ in range(n)]
        for candidate in run.check(z, owners, round_ + 1):
            if candidate is not None and (candidate.owner, candidate.smiles) not in seen:
                seen.add((candidate.owner, candidate.smiles))
                fresh[candidate.owner].append(candidate)
        quota = math.ceil(calls_per_start * (round_ + 1) / N_ROUNDS) - math.ceil(calls_per_start * round_ / N_ROUNDS)
        for i in range(n):
            for candidate in _ranked(run, fresh[i], estimate, scored[i])[:quota]:
                value = run.score(candidate)
                if value is not None:
                    scored[i].append((value, candidate.z))


def _ranked(run: SearchRun, candidates: list[Candidate], estimate: Callable[[torch.Tensor], torch.Tensor] | None,
            scored: list[tuple[float, torch.Tensor]]) -> list[Candidate]:
    """Candidates best first: by the predictor at each molecule's own code, else by a ridge fit to the scored codes,
    else as decoded."""
    if not candidates:
        return []
    if estimate is not None:
        with torch.no_grad():
            codes = run.vae.encode([c.smiles for c in candidates], errors="skip")
            values = torch.nan_to_num(estimate(torch.nan_to_num(codes)), nan=-math.inf)
            values[torch.isnan(codes).any(dim=1)] = -math.inf
    else:
        ranker = _ridge_ranker([(z, s) for s, z in scored])
        if ranker is None:
            return candidates
        values = ranker(torch.stack([c.z for c in candidates]))
    order = torch.argsort(values, descending=True, stable=True)
    return [candidates[int(k)] for k in order]
