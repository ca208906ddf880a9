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
  the ``bayes_opt.SCREEN_BO * batch`` points of highest (log) expected improvement among a pool of candidates, inside a box
  of ``radius`` around the start molecules' z (within +-3 of the prior), and the oracle scores the first ``batch``
  of them that meet the constraints. When the model's property predictor can estimate the objective (qed, logp,
  penalized_logp), that estimate is the GP's prior mean and the GP models the oracle's departure from it, so the
  first rounds, with few scores known, already lean where the predictor expects better molecules. With one start
  molecule, EI is weighted by the chance that a point at that distance from the start decodes to a molecule that
  meets the constraints (constrained EI), estimated from every point decoded so far (decoding costs no call).
- ``local``: local search from inverted codes (``optimization.local_search``): each start's code is first moved
  until it decodes back to the start, then rounds decode ``n_points`` codes per start around it and around the best
  molecules found, and the oracle scores each round's best candidates as the predictor ranks them. Without start
  molecules, goal-directed design (``optimization.design``): a first design drawn from the model's prior, then rounds
  around the best molecules found, ranked by a Tanimoto GP fitted to every score, ``batch`` calls a round.
- ``random``: points ``z_start + radius * eps`` (without start molecules: draws from the model's sampling source, its
  fitted prior when it has one): the baseline.

The oracle counts and caches calls (by canonical SMILES), so ``budget`` bounds the calls of a slow user objective.
Rows that break a constraint (similarity to their start below ``similarity``, SA above ``max_sa``, invalid, a
degenerate molecule unless ``allow_degenerate``: ``chem.is_degenerate``) are left out of the results and counted in
``frame.attrs``. The constraints are checked before the oracle is called, so the budget is spent only on molecules
that can be returned (for the optimizer, a refused molecule scores like an invalid one).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from molvae.chemistry import chem
from molvae.errors import ConfigError, OptimizationError
from molvae.model.latent import LatentModel
from molvae.optimization.bayes_opt import run_bo
from molvae.optimization.design import design
from molvae.optimization.journal import Journal
from molvae.optimization.local_search import local_search
from molvae.optimization.objectives import BudgetSpent, Oracle, build_objective
from molvae.optimization.search_run import Candidate, SearchRun

METHODS = ("gradient", "local", "bo", "random")
STALL_STEPS = 25  # gradient paths end after this many steps in a row that decode no new candidate
CANDIDATES_PER_CALL = 20  # gradient: candidates decoded per oracle call of the budget, for the predictor to rank
# What the property predictor must predict for each objective's gradient: (column names accepted, sign) per term.
SURROGATES = {
    "qed": [(("qed", "QED"), 1.0)],
    "logp": [(("logP", "logp", "LogP"), 1.0)],
    "penalized_logp": [(("logP", "logp", "LogP"), 1.0), (("SAS", "SA", "sa", "sas"), -1.0)],
}


def _surrogate_terms(vae: LatentModel, name: str) -> list[tuple[int, float]]:
    """(predictor column, sign) of each term of the objective's surrogate; ConfigError when the model's predictor
    cannot serve the objective."""
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
    return terms


def _surrogate(vae: LatentModel, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Standardized predictor output(s) for the objective, summed with signs: z (B, Z) -> (B,)."""
    terms, head = _surrogate_terms(vae, name), vae.model.property_head
    return lambda z: sum(sign * head(z)[:, index] for index, sign in terms)


def _estimate(vae: LatentModel, name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The property predictor's estimate of the objective in its own units, z (B, Z) -> (B,) float64, or None when
    the model has no predictor of it. penalized_logp: predicted logP and SA combined as the oracle combines them
    (standardized, no ring term)."""
    try:
        columns = [index for index, _ in _surrogate_terms(vae, name)]
    except ConfigError:
        return None
    head = vae.model.property_head

    @torch.no_grad()
    def estimate(z: torch.Tensor) -> torch.Tensor:
        values = head.eval().predict(z.float()).double()[:, columns]
        if name == "penalized_logp":  # the arithmetic of chem.combine_penalized_logp, on tensors
            return chem.combine_penalized_logp(values[:, 0], values[:, 1], 0)
        return values[:, 0]

    return estimate


def _gradient(run: SearchRun, z0: torch.Tensor, n_steps: int, step_size: float, prior_weight: float, name: str,
              radius: float, neighbours: int, generator: torch.Generator) -> None:
    """Gradient paths from the starts z0 (n, Z); the path points and ``neighbours`` draws around each (within
    ``radius``) are decoded into candidates, and the oracle scores them in the order the predictor ranks them."""
    surrogate = _surrogate(run.vae, name)
    head = run.vae.model.property_head
    head.eval()
    n = len(z0)
    pools: list[list[tuple[float, int, Candidate]]] = [[] for _ in range(n)]
    seen = {(i, s) for i, s in enumerate(run.starts)} | {(i, s) for i, s in enumerate(run.standardized)}
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
        if z0 is None:  # the model's own samples (its fitted prior when it has one)
            z = run.vae.draw_z(n_points, generator, run.vae.sample_source)
            run.evaluate(z, owners, step)
        else:  # a start that has had its per-start calls is not decoded (its draw is still taken: the same stream)
            z = z0 + radius * torch.randn(z0.shape, generator=generator)
            open_ = [k for k, owner in enumerate(owners) if not run.full(owner)]
            run.evaluate(z[open_], [owners[k] for k in open_], step)
        if run.all_full():
            break


def _check_arguments(method: str, counts: dict[str, int], sizes: dict[str, float], similarity: float | None) -> None:
    """ConfigError naming the first argument of ``optimize`` that is out of range."""
    if method not in METHODS:
        raise ConfigError(f"method = {method!r}; expected one of {METHODS}")
    for label, value in counts.items():
        low = 0 if label == "neighbours" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{label} = {value!r}; expected an integer >= {low}")
    for label, value in sizes.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{label} = {value!r}; expected a finite number >= 0")
    if similarity is not None and not (isinstance(similarity, (int, float)) and 0 <= similarity <= 1):
        raise ConfigError(f"similarity = {similarity!r}; expected a number in [0, 1]")


def _check_budget_terms(per_start: int | None, fingerprint: str, has_starts: bool) -> None:
    """ConfigError for a per-start budget that is not a positive integer (or has no starts to apply to), or an
    unknown fingerprint."""
    if fingerprint not in chem.FINGERPRINTS:
        raise ConfigError(f"fingerprint = {fingerprint!r}; expected one of {chem.FINGERPRINTS}")
    if per_start is not None and (not isinstance(per_start, int) or isinstance(per_start, bool) or per_start < 1
                                  or not has_starts):
        raise ConfigError(f"per_start = {per_start!r}; expected an integer >= 1, with start molecules")


def _check_gradient(vae: LatentModel, name: str, canonical: list[str]) -> None:
    """ConfigError when the gradient method has no start molecules or no predictor of the objective."""
    if not canonical:
        raise ConfigError("method 'gradient' starts from molecules: pass start=[...]")
    _surrogate(vae, name)


def _canonical_starts(start: Sequence[str] | str | None, similarity: float | None) -> list[str]:
    """Canonical SMILES of the start molecules; ConfigError for one that does not parse, or for a similarity
    constraint without starts."""
    starts = [start] if isinstance(start, str) else list(start or [])
    if similarity is not None and not starts:
        raise ConfigError("a similarity constraint needs start molecules")
    canonical = []
    for s in starts:
        c = chem.canonical_smiles(s) if isinstance(s, str) else None
        if c is None:
            raise ConfigError(f"start molecule {s!r} is not a valid SMILES string")
        canonical.append(c)
    return canonical


def optimize(
    vae: LatentModel,
    objective: str | Callable[[str], float | None],
    start: Sequence[str] | None = None,
    method: str = "local",
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
    n_points: int = 1000,
    neighbours: int = 3,
    progress: bool = False,
    standardize: str = "auto",
    per_start: int | None = None,
    fingerprint: str = "bits",
    journal: str | Path | None = None,
) -> pd.DataFrame:
    """Optimize an objective in the latent space of ``vae``; every decoded candidate is scored by the objective.

    Returns a DataFrame (start, start_score, smiles, score, similarity, sa, step, oracle_calls, method, z) of the
    valid molecules found that meet the constraints, best first; ``z`` holds each row's latent vector (Z,).
    ``frame.attrs`` holds ``oracle_calls`` and ``left_out`` (counts per broken constraint). Start molecules are
    standardized to what the model can express (``standardize``: auto | always | none); ``start``, ``start_score``
    and ``similarity`` refer to the molecule as given, and ``standardized`` says what changed before encoding it.
    With a similarity constraint and ``bo``, each start molecule gets its own search with an equal share of the
    budget. ``per_start``: at most this many candidates scored per start (the benchmarks' per-molecule budget).
    ``fingerprint`` of similarity: ``bits`` (Morgan r2, 2048 bits) or ``counts`` (JT-VAE's unhashed Morgan r2).
    ``journal``: a file every oracle call is written to; run again with the same file and settings, the search
    resumes where it stopped without paying for a call twice (``optimization.journal``). Ctrl-C ends the search and
    returns what was found, with ``frame.attrs['interrupted']`` True.

    Raises ``ConfigError`` for bad arguments (before any oracle call) and ``OptimizationError`` when the objective
    fails; its ``results`` holds the rows found before.
    """
    name, fn = build_objective(objective, target)
    _check_arguments(method, dict(n_steps=n_steps, budget=budget, batch=batch, n_points=n_points,
                                  neighbours=neighbours), dict(radius=radius, step_size=step_size,
                                                               prior_weight=prior_weight), similarity)
    canonical = _canonical_starts(start, similarity)
    _check_budget_terms(per_start, fingerprint, bool(canonical))
    if method == "gradient":
        _check_gradient(vae, name, canonical)
    # the model reads each start in the form it can express; similarity and start scores stay with the given form
    prepared = vae.standardize(canonical, standardize) if canonical else []
    z0 = vae.encode_standardized(prepared, policy=standardize) if canonical else None  # raises naming an unreadable one
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    settings = {"objective": name, "method": method, "seed": seed, "similarity": similarity, "per_start": per_start,
                "n_points": n_points, "batch": batch, "radius": radius, "fingerprint": fingerprint,
                "starts": hashlib.sha256("\n".join(canonical).encode()).hexdigest()[:16]}
    oracle = Oracle(fn, budget, f"objective {name!r}", Journal(journal, settings) if journal is not None else None)
    mols = [chem.to_mol(c) for c in canonical]
    bar = tqdm(total=budget, disable=not progress, desc=f"optimize {name} ({method})", unit="call")
    run = SearchRun(vae, oracle, method, canonical, mols, [], similarity, max_sa, allow_degenerate, bar=bar,
                    fingerprint=fingerprint, per_start=per_start)
    run.standardized = [r.smiles for r in prepared]
    search = lambda: _search(run, method, name, z0, prepared, generator, n_steps=n_steps,  # noqa: E731
                             step_size=step_size, prior_weight=prior_weight, radius=radius, neighbours=neighbours,
                             batch=batch, n_points=n_points)
    try:
        interrupted = _until_spent(run, search)
    except OptimizationError as exc:
        exc.results = _with_notes(run.frame(), canonical, prepared, fn)
        raise
    finally:
        bar.close()
    frame = _with_notes(run.frame(), canonical, prepared, fn)
    frame.attrs["interrupted"] = interrupted
    return frame


def _until_spent(run: SearchRun, search: Callable[[], None]) -> bool:
    """Score the starts, then search until the budget is spent or the search ends; True when Ctrl-C stopped it
    (what was found is kept, and journaled for a resume)."""
    try:
        run.start_scores = [run.oracle(c) for c in run.starts]
        if run.bar is not None:
            run.bar.update(run.oracle.calls)
        search()
    except BudgetSpent:
        pass
    except KeyboardInterrupt:
        return True
    return False


def _search(run: SearchRun, method: str, name: str, z0: torch.Tensor | None, prepared: list[Any],
            generator: torch.Generator, n_steps: int, step_size: float, prior_weight: float, radius: float,
            neighbours: int, batch: int, n_points: int) -> None:
    """Run ``method`` on a prepared search (start scores known): the starts' codes z0 (n, Z) or None."""
    n_starts = len(run.starts)
    left = run.oracle.budget - n_starts  # the same on a resumed run (its journal's calls are counted already)
    owners = list(range(n_starts)) if n_starts else [-1] * n_points
    estimate = _estimate(run.vae, name) if method in ("bo", "local") else None
    if method == "local" and not n_starts:  # goal-directed design from the model's own samples
        design(run, n_init=max(batch, min(200, left // 10)), batch=batch, points=max(n_points, 10 * batch),
               generator=generator)
    elif method == "local":
        ids = [run.vae.vocab.token_ids(r.written) for r in prepared]
        local_search(run, z0, ids, n_points, estimate, generator, run.per_start or max(1, left // n_starts))
    elif method == "gradient":
        _gradient(run, z0, n_steps, step_size, prior_weight, name, radius, neighbours, generator)
    elif method == "random":
        _random(run, z0, owners, n_steps, radius, n_points, generator)
    elif run.similarity is not None and n_starts > 1:  # a search per start, with an equal share
        run_bo(run, z0, owners, run.start_scores, n_steps, radius, batch, generator, estimate,
               share=max(1, left // n_starts))
    else:
        run_bo(run, z0, [-1] * n_starts, run.start_scores, n_steps, radius, batch, generator, estimate)


def _with_notes(frame: pd.DataFrame, canonical: list[str], prepared: list[Any], fn: Callable) -> pd.DataFrame:
    """The result rows with a ``standardized`` column (what changed in each row's start before the model read it)
    and, for a scoring function with components (``scoring_file``), each component's value and desirability."""
    notes = {c: r.note for c, r in zip(canonical, prepared)}
    frame.insert(frame.columns.get_loc("z"), "standardized", [notes.get(start, "") for start in frame.start])
    breakdown = getattr(fn, "breakdown", None)
    if breakdown is not None:
        parts = pd.DataFrame([{k: v for k, v in breakdown(s).items() if k != "score"} for s in frame.smiles],
                             index=frame.index)
        for column in parts.columns:
            frame.insert(frame.columns.get_loc("z"), column, parts[column])
    return frame


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
