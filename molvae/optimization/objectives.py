"""Objectives of latent optimization: the built-in ones, a user's own oracle, and the counted, cached oracle."""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

from molvae.chemistry import chem
from molvae.errors import ConfigError, OptimizationError
from molvae.optimization.journal import Journal

OBJECTIVES = ("qed", "logp", "penalized_logp", "similarity")


class BudgetSpent(Exception):
    """The oracle was asked for one call more than its budget."""


class Oracle:
    """f(smiles) -> float | None on canonical SMILES, cached, counted and stopped at ``budget`` calls; ``order``
    holds each molecule's call number. With a ``journal`` (``optimization.journal``), the calls it holds are known
    (and counted) from the start, and every new call is written to it."""

    def __init__(self, fn: Callable[[str], float | None], budget: int, name: str = "objective",
                 journal: Journal | None = None) -> None:
        self.fn, self.budget, self.name, self.journal = fn, budget, name, journal
        self.calls = 0
        self.cache: dict[str, float | None] = {}
        self.order: dict[str, int] = {}
        if journal is not None:
            for smiles, (score, call) in journal.entries.items():
                self.cache[smiles], self.order[smiles] = score, call
            self.calls = journal.calls

    @property
    def spent(self) -> bool:
        return self.calls >= self.budget

    def __call__(self, smiles: str) -> float | None:
        if smiles in self.cache:
            return self.cache[smiles]
        if self.calls >= self.budget:
            raise BudgetSpent
        self.calls += 1
        try:
            value = self.fn(smiles)
        except Exception as exc:  # noqa: BLE001 - the user's code: any failure ends the run with its message
            raise OptimizationError(
                f"the {self.name} raised {type(exc).__name__}: {exc} (on {smiles!r}, oracle call {self.calls})"
            ) from exc
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise OptimizationError(f"the {self.name} returned {value!r} for {smiles!r}; expected a number "
                                        "or None") from None
            value = value if math.isfinite(value) else None
        self.cache[smiles], self.order[smiles] = value, self.calls
        if self.journal is not None:
            self.journal.record(smiles, value, self.calls)
        return value


def build_objective(objective: str | Callable[[str], float | None], target: str | None = None) -> tuple[str, Callable]:
    """(name, f(canonical smiles) -> float | None) for a built-in objective name or a user callable."""
    if callable(objective):
        return getattr(objective, "__name__", "objective"), objective
    if not isinstance(objective, str) or objective.lower() not in OBJECTIVES:
        raise ConfigError(f"objective = {objective!r}; expected one of {OBJECTIVES} or a callable f(smiles) -> float")
    name = objective.lower()
    if name == "similarity":
        target_mol = chem.to_mol(target) if isinstance(target, str) else None
        if target_mol is None:
            raise ConfigError(f"objective 'similarity' needs target = a valid SMILES string, got {target!r}")
    elif target is not None:
        raise ConfigError(f"target is used by objective 'similarity' only, not {name!r}")
    scorers = {"qed": chem.qed, "logp": chem.logp, "penalized_logp": chem.penalized_logp}

    def score(smiles: str) -> float | None:
        mol = chem.to_mol(smiles)
        if mol is None:
            return None
        return chem.tanimoto(mol, target_mol) if name == "similarity" else scorers[name](mol)

    score.__name__ = name
    return name, score


def load_objective(text: str) -> str | Callable[[str], float | None]:
    """A built-in objective name, or 'module:function' / 'path/file.py:function' (the user's own oracle)."""
    if text.lower() in OBJECTIVES or ":" not in text:
        return text
    where, _, name = text.rpartition(":")
    try:
        if where.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(where).stem, where)
            if spec is None or spec.loader is None or not Path(where).is_file():
                raise ConfigError(f"objective {text}: no Python file {where}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import: say so in one line
        raise ConfigError(f"objective {text}: cannot import {where}: {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"objective {text}: {where} has no function {name!r}")
    return fn
