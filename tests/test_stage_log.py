"""``molvae.outputs.StageLog``: a long benchmark stopped part way goes on where it stopped, never mixing settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from molvae.errors import ConfigError
from molvae.outputs import StageLog, process_identity


def test_finished_stages_read_back_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "run.partial.jsonl"
    log = StageLog(path, {"seed": 0, "deltas": (0.4, 0.6)})
    assert not log.resumed and log.get("plogp/0.4") is None
    log.put("plogp/0.4", {"rows": [{"smiles": "CCO", "score": 1.5}]})
    again = StageLog(path, {"seed": 0, "deltas": (0.4, 0.6)})  # tuples compare as the lists JSON gives back
    assert again.resumed and again.get("plogp/0.4") == {"rows": [{"smiles": "CCO", "score": 1.5}]}
    again.remove()
    assert not path.exists()


def test_other_settings_set_the_old_log_aside(tmp_path: Path, capsys) -> None:
    path = tmp_path / "run.partial.jsonl"
    StageLog(path, {"seed": 0}).put("a", 1)
    fresh = StageLog(path, {"seed": 1})
    assert fresh.get("a") is None and not fresh.resumed
    assert (tmp_path / "run.partial.jsonl.stale").exists() and "other settings" in capsys.readouterr().out
    assert StageLog(path, {"seed": 1}).get("a") is None


def test_a_line_cut_short_by_a_kill_is_dropped_but_damage_inside_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.partial.jsonl"
    log = StageLog(path, {"seed": 0})
    log.put("a", 1)
    log.put("b", 2)
    with path.open("a") as handle:
        handle.write('{"stage": "c", "resu')
    again = StageLog(path, {"seed": 0})
    assert (again.get("a"), again.get("b"), again.get("c")) == (1, 2, None)
    again.put("c", 3)
    assert StageLog(path, {"seed": 0}).get("c") == 3
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n")
    with pytest.raises(ConfigError, match="line 2 is damaged"):
        StageLog(path, {"seed": 0})


def test_two_processes_share_a_log_each_stage_run_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "run.partial.jsonl"
    ours = StageLog(path, {"seed": 0})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claimant = process_identity(other.pid)
        with path.open("a") as handle:  # the other process has claimed b and is running it
            handle.write(json.dumps({"claim": "b", "by": claimant}) + "\n")
        assert ours.claim("a") and not ours.claim("b")
        ours.put("a", 1)
        assert not ours.claim("a")  # logged: nobody runs it again
        assert ours.pending(["a", "b"]) == ["b"]
        with path.open("a") as handle:  # the other process logs b
            handle.write(json.dumps({"stage": "b", "result": 2}) + "\n")
        assert ours.pending(["a", "b"]) == [] and ours.get("b") == 2
        with path.open("a") as handle:
            handle.write(json.dumps({"claim": "c", "by": claimant}) + "\n")
    finally:
        other.kill()
        other.wait()
    assert ours.claim("c")  # a claim by a process that has ended is void
    assert StageLog(path, {"seed": 0}).get("a") == 1  # claim lines read back without harm
