"""``scripts/benchmark_goal_directed.py --quick`` (the CI-sized PMO run) and the PMO metric."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from molvae.errors import ConfigError
from molvae.optimization.pmo import TASKS, guacamol_tasks, top_auc

ROOT = Path(__file__).resolve().parent.parent


def test_top_auc_is_pmos_trapezoid_extended_to_the_budget() -> None:
    assert top_auc([], 100) == 0.0
    assert top_auc([1.0] * 100, 100) == pytest.approx(0.5)  # one log point at 100 calls: (0 + 1) / 2
    # 300 calls at 0.5 of a 1000 budget: logs at 100 and 200 (0.5 each), the end at 300, then 700 calls at 0.5
    assert top_auc([0.5] * 300, 1000) == pytest.approx((100 * 0.25 + 100 * 0.5 + 100 * 0.5 + 700 * 0.5) / 1000)
    assert top_auc([0.5] * 300, 1000, finished=False) == pytest.approx((25 + 50 + 50) / 1000)
    rising = [i / 1000 for i in range(1000)]
    assert top_auc(rising, 1000) < top_auc(sorted(rising, reverse=True), 1000)  # finding the best early pays


def test_the_twenty_tasks_score_their_own_targets_as_guacamol_does() -> None:
    assert len(TASKS) == 20
    functions = guacamol_tasks(["celecoxib_rediscovery", "albuterol_similarity", "qed"])
    assert functions["celecoxib_rediscovery"]("CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F") == 1.0
    assert functions["albuterol_similarity"]("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1") == 1.0
    assert 0 < functions["qed"]("CCO") < 1
    with pytest.raises(ConfigError, match="unknown PMO task"):
        guacamol_tasks(["drd2"])


def test_an_ablation_takes_one_idea_out_of_the_design_search_and_puts_it_back() -> None:
    import importlib.util

    from molvae.optimization import design

    spec = importlib.util.spec_from_file_location("benchmark_goal_directed", ROOT / "scripts" /
                                                  "benchmark_goal_directed.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ranked, share = design._ranked, design.FRESH_SHARE
    with script.ablated("local-no-restarts"):
        assert design.FRESH_SHARE == 0.0 and design._ranked is ranked
    with script.ablated("local-no-gp"):
        shuffled = design._ranked(list("abcdefgh"), [1.0, 2.0, 3.0], None)
        assert sorted(c for c, _ in shuffled) == list("abcdefgh") and [c for c, _ in shuffled] != list("abcdefgh")
    with script.ablated("local"):
        assert design._ranked is ranked
    assert design._ranked is ranked and design.FRESH_SHARE == share


@pytest.mark.slow
def test_quick_pmo_run_writes_checkable_rows(tmp_path: Path) -> None:
    out = tmp_path / "gd.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_goal_directed.py"), "--quick",
                           "--json", str(out), "--threads", "1"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {(r["task"], r["method"]) for r in report["runs"]} == {(t, m) for t in report["tasks"]
                                                                    for m in ("local", "random")}
    for r in report["runs"]:
        assert 0 <= r["auc_top10"] <= r["top10"] <= r["top1"] <= 1 and r["calls"] <= report["budget"]
        assert len(r["best"]) == 10 and r["best"][0]["score"] == r["top1"]
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_goal_directed.py"), "--check",
                              str(out)], capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0 and "0 mismatches" in checked.stdout
    assert "molvae local" in out.with_suffix(".md").read_text()
