from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from molvae.chemistry import chem
from molvae.cli import main
from molvae.errors import ConfigError
from molvae.optimization.scoring_file import load_scoring, scoring_from_dict
from molvae.optimization.transforms import build_transform

LEAD = "CC(=O)Nc1ccc(O)cc1"
FILE = f"""
aggregate = "geometric"
[[component]]
kind = "similarity"
smiles = ["{LEAD}"]
weight = 2
[[component]]
kind = "logp"
transform = {{ type = "window", low = 1, high = 3 }}
[[component]]
kind = "substructure"
smarts = "[N+](=O)[O-]"
mode = "forbidden"
"""


def test_transforms_map_raw_values_to_desirabilities() -> None:
    step = build_transform({"type": "step", "low": 1, "high": 3}, "t")
    assert (step(0.9), step(1), step(3), step(3.1)) == (0.0, 1.0, 1.0, 0.0)
    sigmoid = build_transform({"type": "sigmoid", "low": 2, "high": 4}, "t")
    assert sigmoid(2) == pytest.approx(1 / (1 + math.e**5)) and sigmoid(3) == pytest.approx(0.5)
    reverse = build_transform({"type": "reverse_sigmoid", "low": 2, "high": 4}, "t")
    assert reverse(4) == pytest.approx(1 / (1 + math.e**5)) and reverse(1) > 0.99
    window = build_transform({"type": "window", "low": 1, "high": 3, "soft": 0.5}, "t")
    assert window(2) == 1.0 and window(0.5) == pytest.approx(1 / (1 + math.e**5)) and 0 < window(3.2) < 1
    falling = build_transform({"type": "linear", "low": 10, "high": 0}, "t")
    assert (falling(10), falling(5), falling(-1)) == (0.0, 0.5, 1.0)
    assert build_transform({"type": "identity"}, "t")(1.7) == 1.0


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "cubic"}, "transform type = 'cubic'"),
    ({"type": "sigmoid", "low": 3, "high": 1}, "needs low < high"),
    ({"type": "sigmoid", "low": 1}, "needs high = a number"),
    ({"type": "step", "low": 1, "high": 2, "k": 3}, "unknown key"),
    ("sigmoid", "expected a table"),
])
def test_bad_transforms_name_what_is_wrong(spec, message) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=message):
        build_transform(spec, "component 1 (logp)")


def test_a_scoring_file_combines_its_components_and_shows_each(tmp_path: Path) -> None:
    path = tmp_path / "score.toml"
    path.write_text(FILE)
    score = load_scoring(path)
    parts = score.breakdown("CC(=O)Nc1ccc(OC)cc1")
    similarity = chem.tanimoto(chem.to_mol("CC(=O)Nc1ccc(OC)cc1"), chem.to_mol(LEAD))
    assert parts["similarity_value"] == pytest.approx(similarity)
    assert parts["logp_value"] == pytest.approx(chem.logp(chem.to_mol("CC(=O)Nc1ccc(OC)cc1")))
    assert parts["logp_score"] == 1.0  # logP 1.65 is inside the window
    # weighted geometric mean: (sim^2 * 1^1)^(1/3); the substructure gate is passed
    assert score("CC(=O)Nc1ccc(OC)cc1") == pytest.approx(similarity ** (2 / 3))
    assert score("O=[N+]([O-])c1ccc(O)cc1") == 0.0  # a forbidden group: gated to 0
    assert score("not a molecule") is None
    arithmetic = scoring_from_dict({"aggregate": "arithmetic", "component": [
        {"kind": "qed", "weight": 1}, {"kind": "similarity", "smiles": LEAD, "weight": 3}]})
    mol = chem.to_mol("CCO")
    assert arithmetic("CCO") == pytest.approx((chem.qed(mol) + 3 * chem.tanimoto(mol, chem.to_mol(LEAD))) / 4)


def test_a_python_component_calls_the_users_function(tmp_path: Path) -> None:
    module = tmp_path / "mine.py"
    module.write_text("def heavy(smiles):\n    return len(smiles) / 100\n")
    score = scoring_from_dict({"component": [{"kind": "python", "function": f"{module}:heavy", "name": "mine"}]})
    assert score("CCO") == pytest.approx(0.03)
    assert score.breakdown("CCO")["mine_value"] == pytest.approx(0.03)


@pytest.mark.parametrize(("text", "message"), [
    ("aggregate = 'median'\n[[component]]\nkind = 'qed'\n", "aggregate = 'median'"),
    ("aggregate = 'geometric'\n", "no \\[\\[component\\]\\]"),
    ("[[component]]\nkind = 'docking'\n", "component 1: kind = 'docking'"),
    ("[[component]]\nkind = 'qed'\nsmarts = 'c'\n", "component 1 \\(qed\\): unknown key\\(s\\) \\['smarts'\\]"),
    ("[[component]]\nkind = 'qed'\nweight = -1\n", "weight = -1"),
    ("[[component]]\nkind = 'substructure'\nsmarts = 'C(('\n", "do not parse"),
    ("[[component]]\nkind = 'substructure'\nsmarts = 'C'\nmode = 'maybe'\n", "mode = 'maybe'"),
    ("[[component]]\nkind = 'similarity'\nsmiles = ['CC', 'C1CC']\n", "\\['C1CC'\\] do not parse"),
    ("[[component]]\nkind = 'python'\nfunction = 'nofile.py:f'\n", "no Python file"),
    ("[[component]]\nkind = 'qed'\n[[component]]\nkind = 'qed'\n", "repeat"),
    ("[[component]\nkind = 'qed'\n", "not valid TOML"),
    ("[[component]]\nkind = 'logp'\ntransform = { type = 'window', low = 3, high = 1 }\n", "component 1 \\(logp\\)"),
])
def test_a_bad_scoring_file_is_one_clear_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_scoring(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_scoring(tmp_path / "missing.toml")


def test_cli_optimize_with_a_scoring_file_writes_each_components_value(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    path, molecules = overfit_model
    scoring = tmp_path / "score.toml"
    scoring.write_text(FILE)
    starts = tmp_path / "starts.smi"
    starts.write_text("\n".join(molecules[:3]) + "\n")
    out = tmp_path / "found.csv"
    result = CliRunner().invoke(main, ["optimize", "--scoring", str(scoring), "--model", str(path), "--start",
                                       str(starts), "--method", "local", "--budget", "30", "--points", "40",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert {"similarity_value", "similarity_score", "logp_value", "logp_score", "substructure_value"} <= set(frame.columns)
    score = load_scoring(scoring)
    for row in frame.itertuples():
        assert row.score == pytest.approx(score(row.smiles))
    both = CliRunner().invoke(main, ["optimize", "--scoring", str(scoring), "--objective", "qed", "--model", str(path)])
    assert both.exit_code != 0 and "one of them" in both.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[[component]]\nkind = 'docking'\n")
    refused = CliRunner().invoke(main, ["optimize", "--scoring", str(bad), "--model", str(path)])
    assert refused.exit_code != 0 and "kind = 'docking'" in refused.output and "Traceback" not in refused.output
