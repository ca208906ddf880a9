from __future__ import annotations

import torch

from molvae.chemistry import chem
from molvae.optimization.objectives import Oracle
from molvae.optimization.search_run import SearchRun

ROD = "c1ccc(-c2ccc(-c3ccc(-c4ccc(-c5ccccc5)cc4)cc3)cc2)cc1"
CHAIN = "CCCCCCCCCCO"
GOOD = "CC(=O)Nc1ccc(O)cc1"


class _Decoder:
    """Stands in for a VAE: decodes row i of z to the i-th of fixed SMILES."""

    def __init__(self, smiles: list[str | None]) -> None:
        self.smiles = smiles

    def decode(self, z: torch.Tensor) -> list[str | None]:
        return self.smiles[: len(z)]


def _run(decoded: list[str | None], allow_degenerate: bool) -> SearchRun:
    oracle = Oracle(lambda s: 0.0, budget=10)
    return SearchRun(_Decoder(decoded), oracle, "random", [], [], [], None, None, allow_degenerate)


def test_check_refuses_and_counts_degenerate_and_invalid_molecules_unless_allowed() -> None:
    decoded = [ROD, CHAIN, GOOD, None]
    run = _run(decoded, allow_degenerate=False)
    out = run.check(torch.zeros(4, 2), owners=[-1] * 4, step=0)
    assert [c.smiles if c else None for c in out] == [None, None, GOOD, None]
    assert run.left_out == {"invalid": 1, "similarity": 0, "sa": 0, "degenerate": 2}
    allowed = _run(decoded, allow_degenerate=True)
    kept = [c.smiles for c in allowed.check(torch.zeros(4, 2), owners=[-1] * 4, step=0) if c]
    assert kept == [ROD, CHAIN, GOOD] and allowed.left_out["degenerate"] == 0
    assert all(chem.to_mol(s) is not None for s in kept)
