"""``scripts/benchmark_optimize.py --suite zinc250k --quick`` (the CI-sized run of the field's benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from molvae.optimization.suite import rescore

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_suite_writes_rows_anyone_can_rescore(tmp_path: Path) -> None:
    out = tmp_path / "opt.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_optimize.py"), "--suite", "zinc250k",
                           "--quick", "--json", str(out), "--threads", "1", "--curve", "1,5"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not out.with_suffix(".partial.jsonl").exists()  # the log of finished stages goes once the report is written
    report = json.loads(out.read_text())
    tasks = {(s["task"], s["delta"], s["fingerprint"], s["method"]) for s in report["summary"]}
    assert {("plogp", 0.4, "bits", "local"), ("plogp", 0.6, "counts", "local"), ("qed", 0.4, "bits", "random")} <= tasks
    assert len(report["molecules"]) == 10 * len(report["summary"])
    starts = (ROOT / "data" / "benchmarks" / "zinc250k_plogp_test800.txt").read_text().split("\n")[:10]
    assert [r["start"] for r in report["molecules"][:10]] == [line.split()[0] for line in starts]  # as written
    for row in report["molecules"]:
        if row["smiles"] is None:
            continue
        again = rescore(row)
        assert again["score"] == pytest.approx(row["score"], abs=1e-9)
        assert again["similarity"] == pytest.approx(row["similarity"], abs=1e-9) and row["similarity"] >= row["delta"]
    assert {u["objective"] for u in report["unconstrained"]} == {"penalized_logp", "qed"}
    paired = {(t["task"], t["delta"], t["fingerprint"]) for t in report["paired"]}
    assert {("plogp", 0.4, "bits"), ("qed", 0.4, "bits")} <= paired and all(0 <= t["p"] <= 1 for t in report["paired"])
    assert [(c["calls_per_molecule"], c["task"], c["delta"]) for c in report["curve"]] == [
        (b, t, d) for b in (1, 5) for t, d in (("plogp", 0.4), ("plogp", 0.6), ("qed", 0.4))]
    table = out.with_suffix(".md").read_text()
    assert "HierG2G (published" in table and "molvae local" in table and "Budget curve" in table
