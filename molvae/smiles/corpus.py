"""SMILES files -> validated canonical molecules -> cached token ids (batches: ``molvae.training.batching``).

Reading never drops a row silently: every rejected row (empty, invalid, too long, duplicate) is kept with its line
number, raw value and reason, for the rejected-rows report. ``strict=True`` fails at the first bad row instead.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molvae.chemistry import chem
from molvae.errors import DataError, TokenizeError
from molvae.outputs import atomic_write, cache_dir
from molvae.smiles.tokenizer import _TOKEN_PATTERN, PAD_ID, Vocabulary, tokenize

READER_VERSION = 1
SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".smi", ".smi.gz", ".txt", ".txt.gz")
EMPTY_CELLS = {"", "nan", "none", "null", "na", "n/a"}
MAX_CHARS_PER_TOKEN = 12  # rows longer than this many characters per allowed token are rejected unparsed
PARALLEL_MIN_ROWS = 20_000


@dataclass(frozen=True)
class Rejected:
    """One row left out: 1-based line number in the file, the raw value, and why."""

    line: int
    raw: str
    reason: str


@dataclass
class Corpus:
    """The usable molecules of a file: canonical SMILES, source lines, token ids and what was rejected."""

    path: Path
    column: str  # the column read ('' for a .smi/.txt file)
    smiles: list[str]  # canonical SMILES, in file order, duplicates removed
    lines: np.ndarray  # (N,) 1-based source line of each molecule
    ids: np.ndarray  # (N, L + 2) int16 <bos> tokens <eos> <pad>..., L = longest molecule
    lengths: np.ndarray  # (N,) tokens incl. bos and eos
    vocab: Vocabulary  # every token of the corpus
    rejected: list[Rejected] = field(default_factory=list)
    n_rows: int = 0  # data rows read (header excluded)
    from_cache: bool = False
    sha256: str = ""  # of the file's bytes

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for r in self.rejected:
            key = r.reason.split(" (")[0].split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(reasons.items())) or "none"
        return f"{self.path}: {self.n_rows} rows, {len(self.smiles)} molecules kept, {len(self.rejected)} rejected ({detail})"


# ---------------------------------------------------------------------------------------------------- reading


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


def _canonicalize(raws: list[str], kekule: bool) -> list[tuple[str | None, str | None]]:
    """(canonical SMILES, the string the model reads) of each raw string: canonical, or Kekulé when ``kekule``."""
    if len(raws) < PARALLEL_MIN_ROWS or (os.cpu_count() or 1) < 2:
        return _canonical_and_written(raws, kekule)
    n_jobs = os.cpu_count() or 1
    size = -(-len(raws) // (n_jobs * 4))
    chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        parts = pool.map(_canonical_and_written, chunks, [kekule] * len(chunks))
        return [pair for part in parts for pair in part]


def _canonical_and_written(raws: list[str], kekule: bool) -> list[tuple[str | None, str | None]]:
    canonical = chem.canonicalize_many(raws)
    written = chem.written_many([c or "" for c in canonical], kekule)
    return [(c, w if c is not None else None) for c, w in zip(canonical, written)]


def validate_rows(
    rows: Sequence[tuple[int, str]], max_length: int, kekule: bool = False
) -> tuple[list[str], list[int], list[list[str]], list[Rejected]]:
    """Canonical SMILES, lines and tokens of the usable rows, and the rejected rows (file order kept). The tokens
    are those of the canonical SMILES, or (``kekule``) of its Kekulé form."""
    rejected: list[Rejected] = []
    candidates: list[tuple[int, str]] = []
    char_limit = MAX_CHARS_PER_TOKEN * max_length + 8
    for line, raw in rows:
        if raw.lower() in EMPTY_CELLS:
            rejected.append(Rejected(line, raw, "empty"))
        elif len(raw) > char_limit:
            rejected.append(Rejected(line, raw[:200], f"too long ({len(raw)} characters; max_length = {max_length} tokens)"))
        else:
            candidates.append((line, raw))
    canonical = _canonicalize([raw for _, raw in candidates], kekule)
    smiles, lines, tokens = [], [], []
    first_line: dict[str, int] = {}
    for (line, raw), (can, written) in zip(candidates, canonical):
        if can is None:
            rejected.append(Rejected(line, raw, "invalid SMILES"))
            continue
        if can in first_line:
            rejected.append(Rejected(line, raw, f"duplicate (of line {first_line[can]})"))
            continue
        if written is None:
            rejected.append(Rejected(line, raw, "RDKit cannot write it in Kekulé form"))
            continue
        try:
            toks = tokenize(written)
        except TokenizeError as exc:
            rejected.append(Rejected(line, raw, f"cannot tokenize: {exc}"))
            continue
        if len(toks) > max_length:
            rejected.append(Rejected(line, raw, f"too long ({len(toks)} tokens > max_length = {max_length})"))
            continue
        first_line[can] = line
        smiles.append(can)
        lines.append(line)
        tokens.append(toks)
    rejected.sort(key=lambda r: r.line)
    return smiles, lines, tokens, rejected


def _padded_ids(tokens: list[list[str]], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(t) + 2 for t in tokens), dtype=np.int64, count=len(tokens))
    width = int(lengths.max()) if len(tokens) else 2
    ids = np.full((len(tokens), width), PAD_ID, dtype=np.int16)
    index = vocab.index
    flat = np.fromiter((index[t] for toks in tokens for t in toks), dtype=np.int16)
    rows = np.repeat(np.arange(len(tokens)), lengths - 2)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths - 2) - (lengths - 2), lengths - 2) + 1
    ids[rows, cols] = flat
    ids[:, 0] = vocab.bos_id
    ids[np.arange(len(tokens)), lengths - 1] = vocab.eos_id
    return ids, lengths


# ---------------------------------------------------------------------------------------------------- cache


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(content_sha256: str, smiles_column: str | None, max_length: int, kekule: bool) -> str:
    from rdkit import __version__ as rdkit_version

    settings = [content_sha256, READER_VERSION, _TOKEN_PATTERN, smiles_column, max_length, rdkit_version]
    settings = json.dumps(settings + ["kekule"] if kekule else settings)  # aromatic caches keep their old keys
    return hashlib.sha256(settings.encode()).hexdigest()[:32]


def _save_cache(target: Path, corpus: Corpus) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "column": corpus.column,
        "n_rows": corpus.n_rows,
        "vocab": corpus.vocab.to_dict(),
        "rejected": [[r.line, r.raw, r.reason] for r in corpus.rejected],
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        smiles=np.frombuffer("\n".join(corpus.smiles).encode(), dtype=np.uint8),
        lines=corpus.lines,
        ids=corpus.ids,
        lengths=corpus.lengths,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )
    atomic_write(target, buffer.getvalue())


def _load_cache(target: Path, path: Path) -> Corpus | None:
    try:
        with np.load(target) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            text = arrays["smiles"].tobytes().decode()
            return Corpus(
                path=path,
                column=meta["column"],
                smiles=text.split("\n") if text else [],
                lines=arrays["lines"],
                ids=arrays["ids"],
                lengths=arrays["lengths"],
                vocab=Vocabulary.from_dict(meta["vocab"]),
                rejected=[Rejected(*r) for r in meta["rejected"]],
                n_rows=meta["n_rows"],
                from_cache=True,
            )
    except Exception:  # a damaged or foreign cache file is rebuilt, never trusted
        return None


# ---------------------------------------------------------------------------------------------------- entry point


def load_corpus(
    path: str | Path,
    smiles_column: str | None = None,
    max_length: int = 100,
    strict: bool = False,
    use_cache: bool = True,
    kekule: bool = False,
) -> Corpus:
    """Read, validate, canonicalize and tokenize a SMILES file (cached by content hash and settings).

    ``smiles`` are canonical SMILES; the token ids are theirs, or (``kekule``) those of their Kekulé forms.

    Raises ``DataError`` for an unreadable file, a wrong column, no usable molecule, or (``strict``) any bad row.
    """
    path = Path(path)
    check_input_path(path)
    content_sha256 = file_sha256(path)
    key = _cache_key(content_sha256, smiles_column, max_length, kekule)
    target = cache_dir() / f"{key}.npz"
    corpus = _load_cache(target, path) if use_cache and target.exists() else None
    if corpus is None:
        column, rows = read_rows(path, smiles_column)
        smiles, lines, tokens, rejected = validate_rows(rows, max_length, kekule)
        vocab = Vocabulary.build(tokens, max_length=max_length)
        ids, lengths = _padded_ids(tokens, vocab)
        corpus = Corpus(path, column, smiles, np.asarray(lines, dtype=np.int64), ids, lengths, vocab, rejected,
                        n_rows=len(rows))
        if use_cache and smiles:
            try:
                _save_cache(target, corpus)
            except OSError:
                pass  # a read-only cache folder costs speed, not correctness
    corpus.sha256 = content_sha256
    if strict and corpus.rejected:
        first = corpus.rejected[0]
        raise DataError(f"{path}:{first.line}: {first.raw[:100]!r}: {first.reason} (strict mode stops at the first bad row)")
    if not corpus.smiles:
        raise DataError(f"{path}: no usable molecule ({corpus.summary()})")
    return corpus


def write_rejected_report(rejected: Sequence[Rejected], target: str | Path) -> Path:
    """CSV with columns line,raw,reason, written atomically."""
    target = Path(target)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["line", "raw", "reason"])
    writer.writerows([r.line, r.raw, r.reason] for r in rejected)
    atomic_write(target, buffer.getvalue().encode("utf-8"))
    return target
