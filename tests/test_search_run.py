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
    assert run.left_out == {"invalid": 1, "start": 0, "similarity": 0, "sa": 0, "degenerate": 2}
    allowed = _run(decoded, allow_degenerate=True)
    kept = [c.smiles for c in allowed.check(torch.zeros(4, 2), owners=[-1] * 4, step=0) if c]
    assert kept == [ROD, CHAIN, GOOD] and allowed.left_out["degenerate"] == 0
    assert all(chem.to_mol(s) is not None for s in kept)


def test_check_refuses_the_start_molecule_itself_as_a_candidate() -> None:
    start = chem.canonical_smiles(GOOD)
    run = SearchRun(_Decoder([start, CHAIN.replace("O", "N")]), Oracle(lambda s: 0.0, budget=10), "random",
                    [start], [chem.to_mol(start)], [0.0], None, None, True)
    out = run.check(torch.zeros(2, 2), owners=[0, 0], step=1)
    assert out[0] is None and out[1] is not None and run.left_out["start"] == 1


def test_score_stops_at_per_start_candidates_without_calling_the_oracle() -> None:
    calls: list[str] = []
    oracle = Oracle(lambda s: calls.append(s) or 1.0, budget=100)
    starts = [chem.canonical_smiles(GOOD), "CCO"]
    decoded = ["CCN", "CCC", "CCCl", "CCBr"]
    run = SearchRun(_Decoder(decoded), oracle, "random", starts, [chem.to_mol(s) for s in starts], [0.0, 0.0],
                    None, None, True, per_start=2)
    scores = run.evaluate(torch.zeros(4, 2), owners=[0, 0, 0, 1], step=1)
    assert scores == [1.0, 1.0, None, 1.0]  # the third candidate of start 0 is over its share
    assert calls == ["CCN", "CCC", "CCBr"] and run.full(0) and not run.full(1) and not run.all_full()


def test_count_fingerprint_similarity_is_jtvae_unhashed_morgan() -> None:
    a, b = chem.to_mol("CC[NH+]1CC[C@@H](CNCc2ccc([O-])c[nH+]2)C1"), chem.to_mol("CCN1CCC(CNCc2ccc(O)cn2)C1")
    assert abs(chem.tanimoto(a, b, "counts") - 12 / 37) < 1e-12  # AllChem.GetMorganFingerprint(m, 2): 0.32432...
    assert chem.tanimoto(a, a, "counts") == 1.0 and chem.tanimoto(a, b, "counts") != chem.tanimoto(a, b)
