"""``scripts/benchmark_optimize.py --suite zinc250k --quick`` (the CI-sized run of the field's benchmarks)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from molvae.optimization import suite
from molvae.optimization.suite import Protocol, rescore
from molvae.outputs import StageLog

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    """scripts/benchmark_optimize.py as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location("benchmark_optimize", ROOT / "scripts" / "benchmark_optimize.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


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
    assert "| molvae local | 20 | 0.4 | bits |" in table  # each row with its oracle calls per molecule
    assert "| 100 gradient steps, each decoded | 0.4 |" in table  # MoFlow's, from its optimization script


def test_protocols_run_in_parts_each_once_and_join_in_order(tmp_path: Path, monkeypatch) -> None:
    script = load_script()
    calls = []

    def fake_protocol(vae, starts, protocol, seed=0, progress=False):
        calls.append((list(starts), seed))
        return [{"task": "plogp", "start": s, "start_score": 0.0, "score": 1.0, "similarity": 0.5, "success": True,
                 "readable": True} for s in starts]

    monkeypatch.setattr(suite, "run_protocol", fake_protocol)
    args = argparse.Namespace(part=2, seed=10)
    protocol = Protocol("plogp", 0.4, "local", "bits", 20, 100)
    starts = ["C", "CC", "CCC", "CCCC", "CCCCC"]
    log = StageLog(tmp_path / "log.jsonl", {"n": 5})
    stages = script.protocol_parts(None, {"plogp": starts}, [protocol], args, log)
    assert [name for name, _ in stages] == [f"plogp/0.4/bits/local/molecules {r}" for r in ("1-2", "3-4", "5-5")]
    log.put(stages[1][0], stages[1][1]())  # a run stopped after its second part
    script.work(stages, StageLog(tmp_path / "log.jsonl", {"n": 5}), from_end=True)
    assert calls == [(["CCC", "CCCC"], 11), (["CCCCC"], 12), (["C", "CC"], 10)]  # each part once, with its own seed
    done = script.protocol_result(protocol, 5, args, StageLog(tmp_path / "log.jsonl", {"n": 5}))
    assert [r["start"] for r in done["rows"]] == starts and done["summary"]["n"] == 5


def test_the_report_names_the_command_that_reproduces_it(monkeypatch) -> None:
    script = load_script()
    given = ["--suite", "zinc250k", "--model", "zinc250k", "--deltas", "0.4", "0.6", "--curve", "1,5,20",
             "--curve-n", "50", "--threads", "1", "--from-end", "--json", str(ROOT / "docs" / "x.json")]
    monkeypatch.setattr(sys, "argv", ["benchmark_optimize.py", *given])
    line = script.command(script.parse())
    assert line == ("python scripts/benchmark_optimize.py --suite zinc250k --model zinc250k --deltas 0.4 0.6 "
                    "--curve 1,5,20 --curve-n 50 --threads 1 --json docs/x.json")  # --from-end changes no figure
    monkeypatch.setattr(sys, "argv", ["benchmark_optimize.py", *line.split()[2:]])
    assert script.command(script.parse()) == line  # the line parses back to the same run
    monkeypatch.setattr(sys, "argv", ["benchmark_optimize.py", "--quick", "--curve", "1,5", "--json", "/tmp/q.json"])
    assert script.command(script.parse()) == ("python scripts/benchmark_optimize.py --suite zinc250k --model zinc250k "
                                              "--quick --curve 1,5 --json /tmp/q.json")
