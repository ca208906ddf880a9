from __future__ import annotations

from pathlib import Path

import pytest

from molvae.errors import ConfigError, OptimizationError
from molvae.optimization.objectives import BudgetSpent, Oracle, build_objective, load_objective


def test_oracle_caches_counts_and_treats_non_finite_as_invalid() -> None:
    values = {"C": 1.0, "CC": float("nan")}
    oracle = Oracle(values.__getitem__, budget=2)
    assert oracle("C") == 1.0 and oracle("C") == 1.0
    assert oracle("CC") is None
    assert oracle.calls == 2 and oracle.spent


def test_similarity_objective_scores_the_target_as_one() -> None:
    name, fn = build_objective("similarity", target="c1ccccc1O")
    assert name == "similarity"
    assert fn("Oc1ccccc1") == pytest.approx(1.0)
    assert fn("CCCC") < 0.2


def test_oracle_stops_at_its_budget_and_names_a_failing_user_function() -> None:
    oracle = Oracle(len, budget=1, name="length")
    assert oracle("CCO") == 3.0
    with pytest.raises(BudgetSpent):
        oracle("CCCO")
    assert oracle("CCO") == 3.0  # cached: no new call
    broken = Oracle(lambda s: 1 / 0, budget=5, name="mine")
    with pytest.raises(OptimizationError, match="the mine raised ZeroDivisionError.*'CC'.*oracle call 1"):
        broken("CC")
    with pytest.raises(OptimizationError, match="returned 'high'"):
        Oracle(lambda s: "high", budget=5)("CC")


def test_unknown_objective_names_and_misplaced_targets_are_refused() -> None:
    with pytest.raises(ConfigError, match="expected one of"):
        build_objective("potency")
    with pytest.raises(ConfigError, match="needs target"):
        build_objective("similarity", target="not a molecule(")
    with pytest.raises(ConfigError, match="used by objective 'similarity' only"):
        build_objective("qed", target="CCO")


def test_load_objective_reads_names_files_and_modules(tmp_path: Path) -> None:
    assert load_objective("qed") == "qed"
    script = tmp_path / "oracle.py"
    script.write_text("def heavy(smiles):\n    return float(len(smiles))\n")
    assert load_objective(f"{script}:heavy")("CCO") == 3.0
    assert load_objective("math:sqrt")(4.0) == 2.0
    with pytest.raises(ConfigError, match="no Python file"):
        load_objective(f"{tmp_path / 'missing.py'}:heavy")
    with pytest.raises(ConfigError, match="has no function 'light'"):
        load_objective(f"{script}:light")
    (tmp_path / "broken.py").write_text("raise RuntimeError('no licence')\n")
    with pytest.raises(ConfigError, match="cannot import .*RuntimeError: no licence"):
        load_objective(f"{tmp_path / 'broken.py'}:f")
