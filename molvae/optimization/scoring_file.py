"""Objectives written as files: a chemist's multi-term score in TOML, the way REINVENT-style scoring is written.

```toml
aggregate = "geometric"                 # or "arithmetic": the weighted mean of the components' desirabilities

[[component]]
kind = "similarity"                     # max Tanimoto (Morgan r2) to these molecules
smiles = ["CC(=O)Nc1ccc(O)cc1"]
weight = 2

[[component]]
kind = "logp"                           # any name of molvae.chemistry.descriptors.DESCRIPTORS
transform = { type = "window", low = 1, high = 3 }

[[component]]
kind = "substructure"                   # a gate: a molecule that breaks it scores 0
smarts = ["[N+](=O)[O-]"]
mode = "forbidden"                      # or "required"

[[component]]
kind = "python"                         # the user's own f(smiles) -> float | None
function = "my_scores.py:score"
```

Each component gives a raw value, which its ``transform`` (``optimization.transforms``, default identity) maps to a
desirability in [0, 1]; the total is the weighted geometric (or arithmetic) mean of the desirabilities, times every
substructure gate. ``ScoringFunction.breakdown`` gives each component's raw value and desirability, for the result
rows (columns ``<name>_value`` and ``<name>_score``; a component's name defaults to its kind). A file that cannot
be used is a ``ConfigError`` naming the file, the component and the key.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molvae.chemistry import chem
from molvae.chemistry.descriptors import DESCRIPTORS, compile_smarts, descriptor, matches
from molvae.errors import ConfigError
from molvae.optimization.objectives import load_objective
from molvae.optimization.transforms import Transform, build_transform

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

AGGREGATES = ("geometric", "arithmetic")
KINDS = ("similarity", "substructure", "python", *DESCRIPTORS)
MODES = ("required", "forbidden")


@dataclass
class Component:
    """One term: a label, a raw-value function of a molecule (RDKit Mol -> float | None), its transform and weight;
    ``gate``: a substructure condition (raw 1 or 0) that multiplies the total instead of entering the mean."""

    label: str
    raw: Callable[[Any, str], float | None]  # (mol, canonical smiles) -> value
    transform: Transform
    weight: float = 1.0
    gate: bool = False


@dataclass
class ScoringFunction:
    """f(smiles) -> total score in [0, 1] (None for an unreadable molecule), from components read from a file."""

    components: list[Component]
    aggregate: str = "geometric"
    source: str = "scoring"
    _memo: dict[str, dict[str, float | None]] = field(default_factory=dict, repr=False)

    @property
    def __name__(self) -> str:  # the optimizer names objectives by their __name__
        return Path(self.source).stem

    def breakdown(self, smiles: str) -> dict[str, float | None]:
        """Each component's raw value (``<label>_value``) and desirability (``<label>_score``), and the total
        ``score``; None values for an unreadable molecule (computed once per molecule)."""
        if smiles in self._memo:
            return self._memo[smiles]
        mol = chem.to_mol(smiles)
        out: dict[str, float | None] = {}
        if mol is None:
            out = {key: None for c in self.components for key in (f"{c.label}_value", f"{c.label}_score")}
            out["score"] = None
        else:
            for c in self.components:
                value = c.raw(mol, smiles)
                value = None if value is None or not math.isfinite(float(value)) else float(value)
                out[f"{c.label}_value"] = value
                out[f"{c.label}_score"] = 0.0 if value is None else c.transform(value)
            out["score"] = self._combine(out)
        self._memo[smiles] = out
        return out

    def _combine(self, values: dict[str, float | None]) -> float:
        gates = math.prod(values[f"{c.label}_score"] for c in self.components if c.gate)
        terms = [(values[f"{c.label}_score"], c.weight) for c in self.components if not c.gate]
        total_weight = sum(w for _, w in terms)
        if not terms or total_weight == 0:
            return float(gates)
        if self.aggregate == "arithmetic":
            mean = sum(d * w for d, w in terms) / total_weight
        else:
            mean = 0.0 if any(d <= 0 for d, w in terms if w > 0) else math.exp(
                sum(w * math.log(d) for d, w in terms if w > 0) / total_weight)
        return float(gates * mean)

    def __call__(self, smiles: str) -> float | None:
        return self.breakdown(smiles)["score"]


def load_scoring(path: str | Path) -> ScoringFunction:
    """The scoring function of a TOML file; ConfigError naming the file, component and key when it cannot be used."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"scoring file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"scoring file {path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scoring file {path}: not valid TOML: {exc}") from None
    return scoring_from_dict(raw, str(path))


def scoring_from_dict(raw: dict[str, Any], source: str = "scoring") -> ScoringFunction:
    """The scoring function of a parsed file (see the module docstring)."""
    unknown = sorted(set(raw) - {"aggregate", "component"})
    if unknown:
        raise ConfigError(f"scoring file {source}: unknown key(s) {unknown}; expected 'aggregate' and [[component]]")
    aggregate = raw.get("aggregate", "geometric")
    if aggregate not in AGGREGATES:
        raise ConfigError(f"scoring file {source}: aggregate = {aggregate!r}; expected one of {AGGREGATES}")
    entries = raw.get("component")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"scoring file {source}: no [[component]] table; add at least one")
    components = [_component(entry, i + 1, source) for i, entry in enumerate(entries)]
    labels = [c.label for c in components]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"scoring file {source}: component names {labels} repeat; give each a distinct 'name'")
    return ScoringFunction(components, aggregate, source)


def _component(entry: Any, number: int, source: str) -> Component:
    where = f"scoring file {source}: component {number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {entry!r}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind = {kind!r}; expected one of {list(KINDS)}")
    allowed = {"kind", "name", "weight", "transform"} | {"similarity": {"smiles", "fingerprint"},
                                                          "substructure": {"smarts", "mode"},
                                                          "python": {"function"}}.get(kind, set())
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where} ({kind}): unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    label = entry.get("name", kind)
    weight = entry.get("weight", 1.0)
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"{where}: name = {label!r}; expected a non-empty string")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ConfigError(f"{where} ({label}): weight = {weight!r}; expected a number >= 0")
    where = f"{where} ({label})"
    transform = build_transform(entry.get("transform", {"type": "identity"}), where)
    if kind == "similarity":
        return Component(label, _similarity(entry, where), transform, float(weight))
    if kind == "substructure":
        return Component(label, _substructure(entry, where), build_transform({"type": "identity"}, where), 1.0, True)
    if kind == "python":
        function = entry.get("function")
        if not isinstance(function, str) or ":" not in function:
            raise ConfigError(f"{where}: function = {function!r}; expected 'module:function' or 'file.py:function'")
        fn = load_objective(function)
        return Component(label, lambda mol, smiles: fn(smiles), transform, float(weight))
    return Component(label, lambda mol, smiles: descriptor(kind, mol), transform, float(weight))


def _similarity(entry: dict[str, Any], where: str) -> Callable[[Any, str], float]:
    smiles = entry.get("smiles")
    smiles = [smiles] if isinstance(smiles, str) else smiles
    fingerprint = entry.get("fingerprint", "bits")
    if fingerprint not in chem.FINGERPRINTS:
        raise ConfigError(f"{where}: fingerprint = {fingerprint!r}; expected one of {chem.FINGERPRINTS}")
    if not isinstance(smiles, list) or not smiles:
        raise ConfigError(f"{where}: smiles = {entry.get('smiles')!r}; expected a SMILES string or a list of them")
    mols = [chem.to_mol(s) if isinstance(s, str) else None for s in smiles]
    bad = [s for s, m in zip(smiles, mols) if m is None]
    if bad:
        raise ConfigError(f"{where}: smiles {bad} do not parse")
    references = [chem.similarity_fingerprint(m, fingerprint) for m in mols]
    return lambda mol, _: max(chem.fingerprint_tanimoto(chem.similarity_fingerprint(mol, fingerprint), r)
                              for r in references)


def _substructure(entry: dict[str, Any], where: str) -> Callable[[Any, str], float]:
    patterns = entry.get("smarts")
    patterns = [patterns] if isinstance(patterns, str) else patterns
    mode = entry.get("mode", "required")
    if mode not in MODES:
        raise ConfigError(f"{where}: mode = {mode!r}; expected one of {MODES}")
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{where}: smarts = {entry.get('smarts')!r}; expected a SMARTS string or a list of them")
    queries = [compile_smarts(p) if isinstance(p, str) else None for p in patterns]
    bad = [p for p, q in zip(patterns, queries) if q is None]
    if bad:
        raise ConfigError(f"{where}: smarts {bad} do not parse")
    if mode == "required":  # every pattern present
        return lambda mol, _: float(all(matches(mol, q) for q in queries))
    return lambda mol, _: float(not any(matches(mol, q) for q in queries))
