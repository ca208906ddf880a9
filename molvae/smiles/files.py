"""Reading SMILES files: the SMILES column of a .csv/.tsv/.smi/.txt file (gzipped or not) with its line numbers,
numeric property columns, and a file's content hash. Errors name the file, the line and what was expected."""

from __future__ import annotations

import csv
import gzip
import hashlib
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molvae.chemistry import chem
from molvae.errors import DataError

SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".smi", ".smi.gz", ".txt", ".txt.gz")
EMPTY_CELLS = {"", "nan", "none", "null", "na", "n/a"}




def check_input_path(path: Path) -> None:
    """Raise ``DataError`` unless ``path`` is an existing file with a supported suffix."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path} is a directory; expected a SMILES file ({', '.join(SUFFIXES)})")
    name = path.name.lower()
    if not name.endswith(SUFFIXES):
        raise DataError(f"{path}: unsupported file type; expected one of {', '.join(SUFFIXES)}")


def _read_text(path: Path) -> str:
    """Whole file as text: gunzipped if .gz, UTF-8 with an optional BOM; clear errors otherwise."""
    check_input_path(path)
    name = path.name.lower()
    try:
        raw = path.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({'truncated or corrupt gzip: ' if name.endswith('.gz') else ''}{exc})") from exc
    if b"\x00" in raw[:8192]:
        raise DataError(f"{path}: looks like a binary file (NUL bytes); expected UTF-8 text with one molecule per row")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: byte {raw[exc.start]:#04x} is not valid UTF-8; save the file as UTF-8 text"
        ) from exc


def _pick_column(path: Path, header: list[str], wanted: str | None) -> int:
    names = [h.strip() for h in header]
    if wanted is not None:
        if wanted.strip() in names:
            return names.index(wanted.strip())
        raise DataError(f"{path}: no column {wanted!r}; the columns are {names}")
    for i, name in enumerate(names):
        if name.lower() == "smiles":
            return i
    return 0


def _text_lines(path: Path) -> tuple[str, list[str]]:
    text = _read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return text, [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_plain_list(path: Path) -> bool:
    return path.name.lower().endswith((".smi", ".smi.gz", ".txt", ".txt.gz"))


def _csv_records(path: Path) -> list[list[str]]:
    """The rows of a .csv/.tsv file (header first) as lists of cells."""
    text, lines = _text_lines(path)
    if not lines:
        raise DataError(f"{path}: the file is empty; expected a header row and one molecule per row")
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, 2**31 - 1)))  # a huge cell is a row to report
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from exc


def read_rows(path: str | Path, smiles_column: str | None = None) -> tuple[str, list[tuple[int, str]]]:
    """The SMILES column of a file: (column name, [(1-based line, stripped raw value), ...])."""
    path = Path(path)
    if _is_plain_list(path):
        if smiles_column is not None:
            raise DataError(f"{path}: --smiles-column applies to .csv/.tsv files; a .smi/.txt file has SMILES first")
        _, lines = _text_lines(path)
        rows = [(i + 1, (line.split(maxsplit=1) or [""])[0]) for i, line in enumerate(lines)]
        if rows and rows[0][1].lower() == "smiles":
            rows = rows[1:]
        if not rows:
            raise DataError(f"{path}: no molecules; expected one SMILES per line")
        return "", rows
    parsed = _csv_records(path)
    header = parsed[0]
    col = _pick_column(path, header, smiles_column)
    column = header[col].strip() if header else ""
    start = 1
    if len(header) == 1 and smiles_column is None and column.lower() != "smiles" and chem.is_valid(column):
        column, start = "", 0  # a one-column file without a header: its first row is a molecule
    rows = [(i + 1, (r[col] if col < len(r) else "").strip()) for i, r in enumerate(parsed) if i >= start]
    if not rows:
        raise DataError(f"{path}: no data rows, only a header ({header}); expected one molecule per row below it")
    return column, rows


def columns(path: str | Path) -> list[str]:
    """The header of a .csv/.tsv file (stripped names); [] for a .smi/.txt file, which has none."""
    path = Path(path)
    if _is_plain_list(path):
        return []
    return [h.strip() for h in _csv_records(path)[0]]


def read_properties(path: str | Path, names: Sequence[str], lines: np.ndarray) -> np.ndarray:
    """Numeric columns ``names`` of a .csv/.tsv file at the given 1-based lines: (N, P) float32.

    Empty and NaN cells become NaN (the value is unknown: the predictor's loss skips it); any other text that is not
    a number is an error naming file, line, column and value.
    """
    path = Path(path)
    if _is_plain_list(path):
        raise DataError(f"{path}: property columns need a .csv/.tsv file with a header; a .smi/.txt file has none")
    parsed = _csv_records(path)
    header = [h.strip() for h in parsed[0]]
    missing = [name for name in names if name not in header]
    if missing:
        raise DataError(f"{path}: no column(s) {missing} for the property predictor; the columns are {header}")
    columns = [header.index(name) for name in names]
    out = np.full((len(lines), len(names)), np.nan, dtype=np.float32)
    for row, line in enumerate(np.asarray(lines)):
        cells = parsed[int(line) - 1]
        for j, (name, col) in enumerate(zip(names, columns)):
            cell = cells[col].strip() if col < len(cells) else ""
            if cell.lower() in EMPTY_CELLS:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise DataError(f"{path}:{line}: column {name!r} holds {cell[:50]!r}; expected a number "
                                "(or an empty cell for an unknown value)") from None
            if not np.isfinite(value):
                raise DataError(f"{path}:{line}: column {name!r} holds {cell!r}; expected a finite number")
            out[row, j] = value
    return out


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
