"""A journal of oracle calls, so a long search can be stopped and resumed without paying for a call twice.

Every call the oracle makes is appended to a JSON-lines file (one line per molecule: canonical SMILES, score, call
number) and flushed, after a first line that describes the search (objective, method, seed, budget, start molecules).
A search started again with the same journal and the same settings replays: it makes the same proposals (it is
seeded), the journal answers the calls already made (they keep their place in the call order and count against the
budget), and new calls are appended where the first run stopped. Settings that differ from the journal's are an error
naming them, never a silent mix of two searches.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from molvae.errors import ConfigError


class Journal:
    """The calls of one search: ``entries`` (smiles -> (score, call number)) read from ``path``, new ones appended."""

    def __init__(self, path: str | Path, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.header = header
        self.entries: dict[str, tuple[float | None, int]] = {}
        if self.path.exists() and self.path.stat().st_size > 0:
            self._read()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line({"journal": "molvae optimize", **header})

    def _read(self) -> None:
        lines = self.path.read_text().splitlines()
        try:
            first = json.loads(lines[0])
        except (json.JSONDecodeError, IndexError):
            raise ConfigError(f"journal {self.path}: not a molvae journal (first line unreadable)") from None
        changed = sorted(k for k in self.header if first.get(k) != self.header[k])
        if first.get("journal") != "molvae optimize" or changed:
            raise ConfigError(f"journal {self.path} belongs to another search (different {changed or 'format'}); "
                              "use a new journal file or the settings it was written with")
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                self.entries[entry["smiles"]] = (entry["score"], int(entry["call"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                if number == len(lines):  # a last line cut short by a kill: dropped, its call is made again
                    self.path.write_text("\n".join(lines[: number - 1]) + "\n")
                    break
                raise ConfigError(f"journal {self.path}: line {number} is damaged") from None

    @property
    def calls(self) -> int:
        return len(self.entries)

    def record(self, smiles: str, score: float | None, call: int) -> None:
        """Append one call (flushed to disk before the search goes on)."""
        self.entries[smiles] = (score, call)
        self._write_line({"smiles": smiles, "score": score, "call": call})

    def _write_line(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
