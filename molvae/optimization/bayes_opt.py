"""Bayesian optimization over z for ``molvae.optimization.optimize`` (method ``bo``; BoTorch, the optional extra ``bo``).

A GP on (z, oracle score), with the property predictor's estimate of the objective as its prior mean when there is
one; each round ranks a pool of candidate points by log expected improvement (times the chance of decoding to a
usable molecule, with one start molecule), decodes the best, and the oracle scores the first ``batch`` of them that
meet the constraints. Under a similarity constraint each start molecule has a search of its own; the searches advance
together, so each round decodes the candidates of all of them in one batched pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from molvae.errors import ConfigError
from molvae.optimization.search_run import SearchRun

SCREEN_BO = 8  # candidates decoded per oracle call of a round (the refused ones cost no call)
STALL_ROUNDS = 25  # rounds in a row that score nothing end the search


def log_expected_improvement(mean: torch.Tensor, sd: torch.Tensor, best: float) -> torch.Tensor:
    """log EI of Gaussian predictions (N,) over ``best``: log sd + log h(u), u = (mean - best) / sd, h(u) = phi(u) +
    u Phi(u); below the best, h = phi(u) (1 + u Phi(u)/phi(u)) with the ratio from erfcx, so no cancellation."""
    sd = sd.clamp(min=1e-12)
    u = (mean - best) / sd
    log_phi = -0.5 * u.pow(2) - 0.5 * math.log(2 * math.pi)
    below = u.clamp(max=0.0)
    ratio = math.sqrt(math.pi / 2) * torch.special.erfcx(-below / math.sqrt(2))  # Phi(u) / phi(u)
    log_below = log_phi + torch.log1p((below * ratio).clamp(min=-1 + 1e-16))
    above = u.clamp(min=0.0)
    log_above = torch.log(torch.exp(-0.5 * above.pow(2)) / math.sqrt(2 * math.pi)
                          + above * 0.5 * torch.erfc(-above / math.sqrt(2)))
    return torch.where(u < 0, log_below, log_above) + torch.log(sd)


def usable_rate(tried: list[tuple[float, bool]], distance: torch.Tensor, radius: float) -> torch.Tensor:
    """Chance that a point at each distance (N,) from the start decodes to a molecule meeting the constraints: a
    kernel average of the points decoded so far (bandwidth radius / 4), with one half-success of prior weight."""
    seen = torch.tensor([d for d, _ in tried], dtype=torch.float64)
    usable = torch.tensor([float(ok) for _, ok in tried], dtype=torch.float64)
    weights = torch.exp(-0.5 * ((distance.double().unsqueeze(1) - seen) / (radius / 4)) ** 2)  # (N, T)
    return ((weights @ usable + 0.5) / (weights.sum(dim=1) + 1.0)).clamp(min=1e-6)


@dataclass
class _Search:
    """One GP search: its box in z, the points scored so far (a start's own score included) and its state."""

    owner: int  # the start molecule its candidates are compared with (-1: none)
    z0: torch.Tensor | None  # (k, Z) start points; None: no start
    lower: torch.Tensor  # (Z,) float64
    upper: torch.Tensor  # (Z,) float64
    xs: list[torch.Tensor]
    ys: list[float | None]
    calls_left: int | None  # oracle calls it may still spend (None: the oracle's budget is the only limit)
    tried: list[tuple[float, bool]] = field(default_factory=list)  # one start: (distance, usable) of decoded points
    fitted: tuple[int, float, Any] | None = None  # (points it was fitted on, residual scale, GP)
    idle: int = 0  # rounds in a row that scored nothing

    @property
    def single(self) -> bool:
        return self.z0 is not None and len(self.z0) == 1


def _box(z0: torch.Tensor | None, radius: float, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The search box (lower, upper), each (Z,) float64: the starts' span widened by radius, within [-3, 3]."""
    if z0 is None:
        centre, spread = torch.zeros(dim), torch.full((dim,), 2.0)
    else:
        centre = (z0.min(0).values + z0.max(0).values) / 2
        spread = (z0.max(0).values - z0.min(0).values) / 2 + radius
    lower = torch.maximum(centre - spread, torch.full((dim,), -3.0)).double()
    upper = torch.minimum(centre + spread, torch.full((dim,), 3.0)).double()
    return torch.minimum(lower, upper - 1e-3), torch.maximum(upper, lower + 1e-3)


def _propose(search: _Search, n: int, radius: float, generator: torch.Generator,
             estimate: Callable[[torch.Tensor], torch.Tensor] | None, max_points: int, pool: int) -> torch.Tensor:
    """The n points (n, Z) of a pool of candidates with the highest log EI under the search's GP (refitted only
    when it has new scores)."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    lower, upper, ys, dim = search.lower, search.upper, search.ys, len(search.lower)
    known = [v for v in ys if v is not None]
    if not known:
        return lower.float() + (upper - lower).float() * torch.rand(n, dim, generator=generator)
    worst = min(known)
    y = torch.tensor([v if v is not None else worst for v in ys], dtype=torch.float64)
    x = torch.stack(search.xs).double()
    if len(x) > max_points:  # exact GP cost grows as n^3: keep the best half and the most recent half
        best = torch.argsort(y, descending=True)[: max_points // 2]
        recent = torch.arange(len(x) - max_points // 2, len(x))
        keep = torch.unique(torch.cat([best, recent]))
        x, y = x[keep], y[keep]
    unit = (x - lower) / (upper - lower)
    prior = estimate(x.float()) if estimate is not None else torch.zeros(len(x), dtype=torch.float64)
    residual = y - prior  # what the GP learns: the oracle's departure from the prior mean
    offset = residual.mean()
    scale = float(residual.std()) if len(y) > 1 else 0.0
    # pool first: its spread of prior means sets the residual's scale while one or two scores are known
    top = unit[torch.argsort(y, descending=True)[:8]]
    moves = top.repeat(pool // 16, 1) + 0.05 * torch.randn(len(top) * (pool // 16), dim, generator=generator,
                                                           dtype=torch.float64)
    if search.single:  # one start: its neighbourhood, drawn as random search draws it
        spread_out = search.z0.double() + radius * torch.randn(pool // 2, dim, generator=generator,
                                                               dtype=torch.float64)
        spread_out = (spread_out - lower) / (upper - lower)
    else:
        spread_out = torch.rand(pool // 2, dim, generator=generator, dtype=torch.float64)
    cand = torch.cat([spread_out, moves.clamp(0.0, 1.0)])
    cand_z = lower + cand * (upper - lower)
    cand_prior = estimate(cand_z.float()) if estimate is not None else torch.zeros(len(cand), dtype=torch.float64)
    if scale <= 1e-9:
        scale = max(float(cand_prior.std()) if estimate is not None else 1.0, 1e-6)
    r_std = (residual - offset) / scale
    if search.fitted is None or search.fitted[0] != len(ys) or scale != search.fitted[1]:  # else: the same GP
        with warnings.catch_warnings():  # BoTorch's notes on data scaling and early stopping are not news here
            warnings.simplefilter("ignore")
            model = SingleTaskGP(unit, r_std.unsqueeze(-1))
            try:
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), max_attempts=1,
                                 optimizer_kwargs={"options": {"maxiter": 25}})
            except Exception:  # noqa: BLE001 - a GP that fails to fit keeps its initial hyperparameters
                pass
        search.fitted = (len(ys), scale, model)
    model = search.fitted[2]
    # the q best of the pool (random points of the box or of the start's neighbourhood, and small moves of the best
    # points so far) by analytic log EI; cheap next to joint q-point optimization
    model.eval()
    with torch.no_grad():
        posterior = model.posterior(cand.unsqueeze(1))  # (N, 1, D): N one-point posteriors, no N x N covariance
        mean = cand_prior + offset + scale * posterior.mean.reshape(-1)
        sd = scale * posterior.variance.reshape(-1).clamp(min=0).sqrt()
    ei = log_expected_improvement(mean, sd, float(y.max()))
    if search.single and search.tried:  # constrained EI: times the chance a point there decodes to a usable molecule
        ei = ei + torch.log(usable_rate(search.tried, (cand_z.float() - search.z0[0]).norm(dim=1), radius))
    return cand_z[torch.argsort(ei, descending=True)[:n]].float()


def run_bo(run: SearchRun, z0: torch.Tensor | None, owners: list[int], y0: list[float | None], n_steps: int,
           radius: float, batch: int, generator: torch.Generator,
           estimate: Callable[[torch.Tensor], torch.Tensor] | None = None, max_points: int = 256,
           pool: int = 2048, share: int | None = None) -> None:
    """BO rounds; ``estimate`` (z (B, Z) -> (B,)): the GP's prior mean in the objective's units (None: a constant).

    ``share`` None: one GP over all start points z0 (k, Z) (or over the prior box when z0 is None). ``share`` n: a
    search of its own per start molecule (row of z0), each spending at most n oracle calls; the searches advance
    together, so one decoding pass per round serves all of them.
    """
    try:
        import botorch  # noqa: F401
    except ImportError as exc:
        raise ConfigError("method 'bo' needs BoTorch: pip install 'molvae[bo]'") from exc
    dim = run.vae.latent_dim
    if share is not None and z0 is not None:
        searches = [_Search(owners[i], z0[i : i + 1], *_box(z0[i : i + 1], radius, dim), [z0[i]], [y0[i]], share)
                    for i in range(len(z0))]
    else:
        owner = owners[0] if len(set(owners)) == 1 else -1  # one start: every candidate is one of its neighbours
        searches = [_Search(owner, z0, *_box(z0, radius, dim), [] if z0 is None else list(z0),
                            [] if z0 is None else list(y0), None)]
    if not searches[0].xs:  # a first design from the box
        search = searches[0]
        z = search.lower.float() + (search.upper - search.lower).float() * torch.rand(batch, dim, generator=generator)
        search.ys.extend(run.evaluate(z, [-1] * batch, 0))
        search.xs.extend(z)
    for step in range(1, n_steps + 1):
        active = [s for s in searches if s.idle < STALL_ROUNDS and (s.calls_left is None or s.calls_left > 0)]
        if not active:  # every search spent its share or stalled: nothing decoded near it meets the constraints
            break
        proposals = [_propose(s, batch * SCREEN_BO, radius, generator, estimate, max_points, pool) for s in active]
        # decoding is free: the best candidates by EI are decoded and checked in one pass, and the oracle scores the
        # first `batch` new molecules of each search that meet the constraints (only those enter its GP)
        z = torch.cat(proposals)
        checked = run.check(z, [s.owner for s, p in zip(active, proposals) for _ in range(len(p))], step)
        at = 0
        for search, proposal in zip(active, proposals):
            mine, at = checked[at : at + len(proposal)], at + len(proposal)
            if search.single:
                search.tried.extend(zip((proposal - search.z0[0]).norm(dim=1).tolist(), [c is not None for c in mine]))
            scored = 0
            for i, candidate in enumerate(mine):
                if scored == batch or search.calls_left == 0:
                    break
                if candidate is not None and candidate.smiles not in run.oracle.cache:
                    before = run.oracle.calls
                    search.xs.append(proposal[i])
                    search.ys.append(run.score(candidate))
                    scored += 1
                    if search.calls_left is not None:
                        search.calls_left -= run.oracle.calls - before
            search.idle = 0 if scored else search.idle + 1
