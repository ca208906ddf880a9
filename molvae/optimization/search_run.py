"""One latent search's bookkeeping: decode candidates, check the constraints, spend the oracle, keep the rows.

The constraints (similarity to the start molecule, SA score, validity, degenerate molecules) are checked before the
oracle is called, so a budget of oracle calls is spent only on molecules that can be returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from molvae.chemistry import chem
from molvae.model.latent import LatentModel
from molvae.optimization.objectives import Oracle

COLUMNS = ["start", "start_score", "smiles", "score", "similarity", "sa", "step", "oracle_calls", "method", "z"]


@dataclass
class Candidate:
    """A decoded molecule that meets the constraints, not yet scored; ``z`` (Z,) is where it was decoded from."""

    owner: int
    smiles: str
    similarity: float
    sa: float
    step: int
    z: torch.Tensor


@dataclass
class SearchRun:
    """The rows found so far, and what was left out."""

    vae: LatentModel
    oracle: Oracle
    method: str
    starts: list[str]
    start_mols: list[Any]
    start_scores: list[float | None]
    similarity: float | None
    max_sa: float | None
    allow_degenerate: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=lambda: {"invalid": 0, "start": 0, "similarity": 0, "sa": 0,
                                                                "degenerate": 0})
    bar: Any = None
    standardized: list[str | None] = field(default_factory=list)  # each start as the model read it
    fingerprint: str = "bits"  # similarity measure (chem.tanimoto)
    per_start: int | None = None  # at most this many candidates scored for each start molecule
    scored: dict[int, int] = field(default_factory=dict)  # candidates scored so far, per start
    start_fingerprints: dict[int, Any] = field(default_factory=dict)  # each start's, computed once
    decoded: int = 0  # latent points decoded (no oracle call), for methods that count them
    notes: dict[str, int] = field(default_factory=dict)  # what a method reports beside the rows (frame.attrs)

    def full(self, owner: int) -> bool:
        """True when start ``owner`` has had its ``per_start`` candidates scored."""
        return self.per_start is not None and owner >= 0 and self.scored.get(owner, 0) >= self.per_start

    def all_full(self) -> bool:
        """True when every start has had its ``per_start`` candidates scored (the search can end)."""
        return self.per_start is not None and bool(self.starts) and all(self.full(i) for i in range(len(self.starts)))

    def check(self, z: torch.Tensor, owners: Sequence[int], step: int) -> list[Candidate | None]:
        """Decode z (b, Z) greedily and apply the constraints (no oracle call): a candidate per row, None where the
        molecule is invalid or breaks a constraint. ``owners[i]``: index of the start molecule of row i (-1: none)."""
        out: list[Candidate | None] = []
        for i, smiles in enumerate(self.vae.decode(z)):
            if smiles is None:
                self.left_out["invalid"] += 1
                out.append(None)
                continue
            owner = owners[i]
            if owner >= 0 and smiles in (self.starts[owner], self._standardized(owner)):
                self.left_out["start"] += 1  # the start molecule itself (as given or as the model read it)
                out.append(None)
                continue
            mol = chem.to_mol(smiles)
            sim = self._similarity(mol, owner) if owner >= 0 else float("nan")
            sa = float("nan")  # computed here only for the SA limit; else when the candidate becomes a row
            if self.similarity is not None and owner >= 0 and sim < self.similarity:
                broken = "similarity"  # most candidates stop here
            else:
                sa = chem.sa_score(mol) if self.max_sa is not None else sa
                broken = ("sa" if self.max_sa is not None and sa > self.max_sa
                          else "degenerate" if not self.allow_degenerate and chem.is_degenerate(mol) else None)
            if broken is not None:
                self.left_out[broken] += 1
                out.append(None)
                continue
            out.append(Candidate(owner, smiles, sim, sa, step, z[i]))
        return out

    def _similarity(self, mol: Any, owner: int) -> float:
        """Tanimoto similarity of a candidate to start ``owner`` (the start's fingerprint computed once)."""
        if owner not in self.start_fingerprints:
            self.start_fingerprints[owner] = chem.similarity_fingerprint(self.start_mols[owner], self.fingerprint)
        return chem.fingerprint_tanimoto(chem.similarity_fingerprint(mol, self.fingerprint),
                                         self.start_fingerprints[owner])

    def _standardized(self, owner: int) -> str | None:
        return self.standardized[owner] if owner < len(self.standardized) else None

    def score(self, candidate: Candidate) -> float | None:
        """The oracle's score of a candidate (a call unless cached); a valid score adds a result row. None without
        a call when its start has had its ``per_start`` candidates scored."""
        if self.full(candidate.owner):
            return None
        self.scored[candidate.owner] = self.scored.get(candidate.owner, 0) + 1
        before = self.oracle.calls
        value = self.oracle(candidate.smiles)
        if self.bar is not None and self.oracle.calls > before:
            self.bar.update(self.oracle.calls - before)
        if value is None:
            self.left_out["invalid"] += 1
            return None
        owner = candidate.owner
        self.rows.append({
            "start": self.starts[owner] if owner >= 0 else "",
            "start_score": self.start_scores[owner] if owner >= 0 else float("nan"),
            "smiles": candidate.smiles, "score": value, "similarity": candidate.similarity,
            "sa": chem.sa_score(chem.to_mol(candidate.smiles)) if math.isnan(candidate.sa) else candidate.sa,
            "step": candidate.step, "oracle_calls": self.oracle.order.get(candidate.smiles, self.oracle.calls),
            "method": self.method,
            "z": candidate.z.detach().cpu().numpy().copy(),
        })
        return value

    def evaluate(self, z: torch.Tensor, owners: Sequence[int], step: int) -> list[float | None]:
        """Decode z (b, Z), check the constraints, and score every candidate that meets them (the oracle is spent
        only on molecules that can be returned): the scores, None where invalid or refused, for the optimizer."""
        return [None if c is None else self.score(c) for c in self.check(z, owners, step)]

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=COLUMNS)
        frame = frame.sort_values(["score", "oracle_calls"], ascending=[False, True], kind="stable")
        frame = frame.drop_duplicates(["start", "smiles"]).reset_index(drop=True)
        frame.attrs.update(oracle_calls=self.oracle.calls, left_out=dict(self.left_out), method=self.method,
                           objective=self.oracle.name, decoded=self.decoded, **self.notes)
        return frame
