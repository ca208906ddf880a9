"""Latent-space optimization: move z towards better molecules and decode them, with the true objective in the loop.

Methods (``optimize(..., method=...)``):
- ``gradient``: normalized gradient ascent on the property predictor from encoded start molecules, minus a prior
  (density) penalty ``prior_weight * |z|^2 / 2``. Each point of a path and ``neighbours`` draws around it (within
  ``radius``) are decoded greedily; a path point that decodes to nothing usable (invalid or breaking a constraint)
  is taken back and its step halved. The new molecules become candidates, ranked by the predictor at their own
  encoding; the objective (the oracle) scores them best first (with a similarity constraint, each start's best in
  turn), so the budget goes to the candidates the predictor likes most. Paths end after ``n_steps``, when
  ``CANDIDATES_PER_CALL`` candidates per oracle call are found, or after ``STALL_STEPS`` steps with none new.
- ``bo``: Bayesian optimization over z with BoTorch (extra ``bo``): a GP on (z, oracle score); each round decodes
  the ``SCREEN_BO * batch`` points of highest (log) expected improvement among a pool of candidates, inside a box
  of ``radius`` around the start molecules' z (within +-3 of the prior), and the oracle scores the first ``batch``
  of them that meet the constraints.
- ``random``: points ``z_start + radius * eps`` (or prior draws without start molecules): the baseline.

The oracle counts and caches calls (by canonical SMILES), so ``budget`` bounds the calls of a slow user objective.
Rows that break a constraint (similarity to their start below ``similarity``, SA above ``max_sa``, invalid, a
degenerate long carbon chain unless ``allow_degenerate``) are left out of the results and counted in
``frame.attrs``. The constraints are checked before the oracle is called, so the budget is spent only on molecules
that can be returned (for the optimizer, a refused molecule scores like an invalid one).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from molvae import chem
from molvae.errors import ConfigError, OptimizationError
from molvae.objectives import BudgetSpent, Oracle, build_objective
from molvae.search_run import Candidate, SearchRun

if TYPE_CHECKING:
    from molvae.api import MolVAE

METHODS = ("gradient", "bo", "random")
STALL_STEPS = 25  # gradient paths end after this many steps in a row that decode no new candidate
SCREEN_BO = 8  # bo: candidates decoded per oracle call of a round (the refused ones cost no call)
CANDIDATES_PER_CALL = 20  # gradient: candidates decoded per oracle call of the budget, for the predictor to rank
# What the property predictor must predict for each objective's gradient: (column names accepted, sign) per term.
SURROGATES = {
    "qed": [(("qed", "QED"), 1.0)],
    "logp": [(("logP", "logp", "LogP"), 1.0)],
    "penalized_logp": [(("logP", "logp", "LogP"), 1.0), (("SAS", "SA", "sa", "sas"), -1.0)],
}


def _surrogate(vae: Any, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Standardized predictor output(s) for the objective, summed with signs: z (B, Z) -> (B,)."""
    head = getattr(vae.model, "property_head", None)
    if name not in SURROGATES or head is None:
        why = "this model has no property predictor" if head is None else f"no predictor exists for {name!r}"
        raise ConfigError(f"method 'gradient' needs a property predictor of the objective ({why}); fit one with "
                          "`molvae fit-properties` or train with --properties, or use method 'bo' or 'random'")
    names = vae.config.data.property_list
    terms = []
    for accepted, sign in SURROGATES[name]:
        found = [i for i, n in enumerate(names) if n in accepted]
        if not found:
            raise ConfigError(f"objective {name!r} needs the predictor to predict one of {accepted}; it predicts "
                              f"{names}")
        terms.append((found[0], sign))
    return lambda z: sum(sign * head(z)[:, index] for index, sign in terms)


def _gradient(run: SearchRun, z0: torch.Tensor, n_steps: int, step_size: float, prior_weight: float, name: str,
              radius: float, neighbours: int, generator: torch.Generator) -> None:
    """Gradient paths from the starts z0 (n, Z); the path points and ``neighbours`` draws around each (within
    ``radius``) are decoded into candidates, and the oracle scores them in the order the predictor ranks them."""
    surrogate = _surrogate(run.vae, name)
    head = run.vae.model.property_head
    head.eval()
    n = len(z0)
    pools: list[list[tuple[float, int, Candidate]]] = [[] for _ in range(n)]
    seen = {(i, s) for i, s in enumerate(run.starts)}
    wanted = CANDIDATES_PER_CALL * max(1, run.oracle.budget - run.oracle.calls)
    owners = list(range(n)) * (1 + neighbours)
    z, found, idle = z0.clone(), 0, 0
    steps = torch.full((n, 1), float(step_size))
    for step in range(n_steps + 1):
        last = z
        if step > 0:
            tracked = z.detach().requires_grad_(True)
            value = surrogate(tracked) - prior_weight * 0.5 * tracked.pow(2).sum(dim=1)
            (grad,) = torch.autograd.grad(value.sum(), tracked)
            z = z + steps * grad / grad.norm(dim=1, keepdim=True).clamp(min=1e-12)
        points = torch.cat([z] + [z + radius * torch.randn(z.shape, generator=generator) for _ in range(neighbours)])
        checked = run.check(points, owners, step)
        if step > 0:  # a path point that decodes to nothing usable steps back and halves its step (a line search)
            out = torch.tensor([c is None for c in checked[:n]])
            z = torch.where(out.unsqueeze(1), last, z)
            steps[out] = steps[out] / 2
        fresh = []
        for candidate in checked:
            if candidate is not None and (candidate.owner, candidate.smiles) not in seen:
                seen.add((candidate.owner, candidate.smiles))
                fresh.append(candidate)
        if fresh:
            # the predictor's value at each molecule's own encoding ranks the candidates (NaN: it cannot be read)
            with torch.no_grad():
                mu = run.vae.encode([c.smiles for c in fresh], errors="skip")
                predicted = torch.nan_to_num(surrogate(mu), nan=-math.inf).tolist()
            for value, candidate in zip(predicted, fresh):
                pools[candidate.owner].append((value, found, candidate))
                found += 1
        idle = 0 if fresh else idle + 1
        if found >= wanted or idle >= STALL_STEPS:  # enough to choose from, or nothing new comes out
            break
    if run.similarity is None:  # one objective, no per-start constraint: the best predicted first, whatever start
        pools = [[entry for pool in pools for entry in pool]]
    for pool in pools:
        pool.sort(key=lambda entry: (-entry[0], entry[1]))
    # each start's candidates, best predicted first, one start after another (round robin): the budget is shared
    for rank in range(max(len(pool) for pool in pools)):
        for pool in pools:
            if rank < len(pool):
                run.score(pool[rank][2])


def _random(run: SearchRun, z0: torch.Tensor | None, owners: list[int], n_steps: int, radius: float, n_points: int,
            generator: torch.Generator) -> None:
    for step in range(1, n_steps + 1):
        if z0 is None:
            z = torch.randn(n_points, run.vae.latent_dim, generator=generator)
        else:
            z = z0 + radius * torch.randn(z0.shape, generator=generator)
        run.evaluate(z, owners, step)


def _bo(run: SearchRun, z0: torch.Tensor | None, owners: list[int], y0: list[float | None], n_steps: int, radius: float,
        batch: int, generator: torch.Generator, max_points: int = 256, pool: int = 2048) -> None:
    try:
        from botorch.acquisition import LogExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood
    except ImportError as exc:
        raise ConfigError("method 'bo' needs BoTorch: pip install 'molvae[bo]'") from exc
    dim = run.vae.latent_dim
    if z0 is None:
        centre, spread = torch.zeros(dim), torch.full((dim,), 2.0)
    else:
        centre = (z0.min(0).values + z0.max(0).values) / 2
        spread = (z0.max(0).values - z0.min(0).values) / 2 + radius
    lower = torch.maximum(centre - spread, torch.full((dim,), -3.0)).double()
    upper = torch.minimum(centre + spread, torch.full((dim,), 3.0)).double()
    lower, upper = torch.minimum(lower, upper - 1e-3), torch.maximum(upper, lower + 1e-3)
    xs = [] if z0 is None else [z0[i] for i in range(len(z0))]
    ys = [] if z0 is None else list(y0)
    if not xs:  # a first design from the box
        z = lower.float() + (upper - lower).float() * torch.rand(batch, dim, generator=generator)
        ys.extend(run.evaluate(z, [-1] * batch, 0))
        xs.extend(z)
    owner_of = owners[0] if len(set(owners)) == 1 else -1  # one start: every candidate is one of its neighbours
    idle = 0
    for step in range(1, n_steps + 1):
        known = [v for v in ys if v is not None]
        if not known:
            z = lower.float() + (upper - lower).float() * torch.rand(batch * SCREEN_BO, dim, generator=generator)
        else:
            worst = min(known)
            y = torch.tensor([v if v is not None else worst for v in ys], dtype=torch.float64)
            x = torch.stack(xs).double()
            if len(x) > max_points:  # exact GP cost grows as n^3: keep the best half and the most recent half
                best = torch.argsort(y, descending=True)[: max_points // 2]
                recent = torch.arange(len(x) - max_points // 2, len(x))
                keep = torch.unique(torch.cat([best, recent]))
                x, y = x[keep], y[keep]
            unit = (x - lower) / (upper - lower)
            y_std = (y - y.mean()) / y.std().clamp(min=1e-9) if len(y) > 1 else y - y.mean()
            with warnings.catch_warnings():  # BoTorch's notes on data scaling and early stopping are not news here
                warnings.simplefilter("ignore")
                model = SingleTaskGP(unit, y_std.unsqueeze(-1))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), max_attempts=1,
                                     optimizer_kwargs={"options": {"maxiter": 25}})
            except Exception:  # noqa: BLE001 - a GP that fails to fit keeps its initial hyperparameters
                pass
            acquisition = LogExpectedImprovement(model, best_f=y_std.max())
            # the batch: the q best of a candidate pool (random points of the box and small moves of the best
            # points so far) by analytic log EI; cheap next to joint q-point optimization, and as good here
            top = unit[torch.argsort(y_std, descending=True)[:8]]
            moves = top.repeat(pool // 16, 1) + 0.05 * torch.randn(len(top) * (pool // 16), dim, generator=generator,
                                                                   dtype=torch.float64)
            if z0 is not None and len(z0) == 1:  # one start: its neighbourhood, drawn as random search draws it
                spread_out = z0.double() + radius * torch.randn(pool // 2, dim, generator=generator, dtype=torch.float64)
                spread_out = (spread_out - lower) / (upper - lower)
            else:
                spread_out = torch.rand(pool // 2, dim, generator=generator, dtype=torch.float64)
            cand = torch.cat([spread_out, moves.clamp(0.0, 1.0)])
            with torch.no_grad():
                ei = torch.cat([acquisition(chunk.unsqueeze(1)) for chunk in cand.split(512)])
            candidates = cand[torch.argsort(ei, descending=True)[: batch * SCREEN_BO]]
            z = (lower + candidates.detach() * (upper - lower)).float()
        # decoding is free: the best candidates by EI are decoded and checked, and the oracle scores the first
        # `batch` new molecules that meet the constraints (only those enter the GP: it stays small and quick to fit)
        scored = 0
        for i, candidate in enumerate(run.check(z, [owner_of] * len(z), step)):
            if candidate is not None and candidate.smiles not in run.oracle.cache and scored < batch:
                xs.append(z[i])
                ys.append(run.score(candidate))
                scored += 1
        idle = 0 if scored else idle + 1
        if idle >= STALL_STEPS:  # nothing decoded here meets the constraints any more
            break


def optimize(
    vae: MolVAE,
    objective: str | Callable[[str], float | None],
    start: Sequence[str] | None = None,
    method: str = "gradient",
    n_steps: int = 50,
    budget: int = 1000,
    similarity: float | None = None,
    seed: int = 0,
    target: str | None = None,
    max_sa: float | None = None,
    allow_degenerate: bool = False,
    radius: float = 0.5,
    step_size: float = 0.2,
    prior_weight: float = 0.05,
    batch: int = 16,
    n_points: int = 100,
    neighbours: int = 3,
    progress: bool = False,
) -> pd.DataFrame:
    """Optimize an objective in the latent space of ``vae``; every decoded candidate is scored by the objective.

    Returns a DataFrame (start, start_score, smiles, score, similarity, sa, step, oracle_calls, method, z) of the
    valid molecules found that meet the constraints, best first; ``z`` holds each row's latent vector (Z,).
    ``frame.attrs`` holds ``oracle_calls`` and ``left_out`` (counts per broken constraint). With a similarity
    constraint and ``bo``, each start molecule gets its own search with an equal share of the budget.

    Raises ``ConfigError`` for bad arguments (before any oracle call) and ``OptimizationError`` when the objective
    fails; its ``results`` holds the rows found before.
    """
    if method not in METHODS:
        raise ConfigError(f"method = {method!r}; expected one of {METHODS}")
    name, fn = build_objective(objective, target)
    for label, value, low in (("n_steps", n_steps, 1), ("budget", budget, 1), ("batch", batch, 1),
                              ("n_points", n_points, 1), ("neighbours", neighbours, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{label} = {value!r}; expected an integer >= {low}")
    for label, value in (("radius", radius), ("step_size", step_size), ("prior_weight", prior_weight)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{label} = {value!r}; expected a finite number >= 0")
    if similarity is not None and not (isinstance(similarity, (int, float)) and 0 <= similarity <= 1):
        raise ConfigError(f"similarity = {similarity!r}; expected a number in [0, 1]")
    starts = [start] if isinstance(start, str) else list(start or [])
    if similarity is not None and not starts:
        raise ConfigError("a similarity constraint needs start molecules")
    if method == "gradient":
        if not starts:
            raise ConfigError("method 'gradient' starts from molecules: pass start=[...]")
        _surrogate(vae, name)  # fail now if the predictor cannot serve this objective
    canonical = []
    for s in starts:
        c = chem.canonical_smiles(s) if isinstance(s, str) else None
        if c is None:
            raise ConfigError(f"start molecule {s!r} is not a valid SMILES string")
        canonical.append(c)
    z0 = vae.encode(canonical) if canonical else None  # raises naming a molecule the vocabulary cannot express
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    oracle = Oracle(fn, budget, f"objective {name!r}")
    mols = [chem.to_mol(c) for c in canonical]
    bar = tqdm(total=budget, disable=not progress, desc=f"optimize {name} ({method})", unit="call")
    run = SearchRun(vae, oracle, method, canonical, mols, [], similarity, max_sa, allow_degenerate, bar=bar)
    try:
        try:
            run.start_scores = [oracle(c) for c in canonical]
            bar.update(oracle.calls)
            owners = list(range(len(canonical))) if canonical else [-1] * n_points
            if method == "gradient":
                _gradient(run, z0, n_steps, step_size, prior_weight, name, radius, neighbours, generator)
            elif method == "random":
                _random(run, z0, owners, n_steps, radius, n_points, generator)
            elif similarity is not None and len(canonical) > 1:
                share = max(1, (budget - oracle.calls) // len(canonical))
                for i in range(len(canonical)):
                    oracle.budget = min(budget, oracle.calls + share)
                    try:
                        _bo(run, z0[i : i + 1], [i], run.start_scores[i : i + 1], n_steps, radius, batch, generator)
                    except BudgetSpent:
                        continue
            else:
                _bo(run, z0, [-1] * len(canonical), run.start_scores, n_steps, radius, batch, generator)
        except BudgetSpent:
            pass
    except OptimizationError as exc:
        exc.results = run.frame()
        raise
    finally:
        bar.close()
    return run.frame()


def best_molecules(frame: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The k best distinct molecules of a result frame."""
    return frame.drop_duplicates("smiles").head(k).reset_index(drop=True)


def improvement_summary(frame: pd.DataFrame, starts: Sequence[str]) -> dict[str, float]:
    """The JT-VAE constrained-optimization figures: per start molecule, the best row that improves on it (score
    above the start's); mean improvement and mean similarity over the successes, and the success rate."""
    canonical = [chem.canonical_smiles(s) for s in starts]
    improved = frame[frame.score > frame.start_score]
    best = improved.sort_values("score", ascending=False).drop_duplicates("start")
    n = len([c for c in canonical if c is not None])
    gains = (best.score - best.start_score).to_numpy()
    return {
        "n_start": n,
        "success": len(best) / max(1, n),
        "mean_improvement": float(gains.mean()) if len(gains) else 0.0,
        "std_improvement": float(gains.std()) if len(gains) else 0.0,
        "mean_similarity": float(best.similarity.mean()) if len(best) else float("nan"),
    }


def as_array(frame: pd.DataFrame) -> np.ndarray:
    """The rows' latent vectors stacked: (N, Z)."""
    return np.stack(frame.z.to_list()) if len(frame) else np.zeros((0, 0), dtype=np.float32)
