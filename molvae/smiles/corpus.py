"""SMILES files -> validated canonical molecules -> cached token ids (batches: ``molvae.training.batching``).

Reading never drops a row silently: every rejected row (empty, invalid, too long, duplicate) is kept with its line
number, raw value and reason, for the rejected-rows report. ``strict=True`` fails at the first bad row instead.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molvae.chemistry import chem
from molvae.chemistry.standardize import standardize_many
from molvae.errors import DataError, TokenizeError
from molvae.outputs import atomic_write, cache_dir, write_cache
from molvae.smiles.files import EMPTY_CELLS, check_input_path, file_sha256, read_rows
from molvae.smiles.tokenizer import _TOKEN_PATTERN, PAD_ID, Vocabulary, tokenize

READER_VERSION = 1
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


def _canonicalize(raws: list[str], kekule: bool, standardize: bool = False) -> list[tuple[str | None, str | None]]:
    """(canonical SMILES, the string the model reads) of each raw string: canonical, or Kekulé when ``kekule``;
    standardized first when ``standardize``."""
    if len(raws) < PARALLEL_MIN_ROWS or (os.cpu_count() or 1) < 2:
        return _canonical_and_written(raws, kekule, standardize)
    n_jobs = os.cpu_count() or 1
    size = -(-len(raws) // (n_jobs * 4))
    chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        parts = pool.map(_canonical_and_written, chunks, [kekule] * len(chunks), [standardize] * len(chunks))
        return [pair for part in parts for pair in part]


def _canonical_and_written(raws: list[str], kekule: bool, standardize: bool = False
                           ) -> list[tuple[str | None, str | None]]:
    if standardize:  # the largest fragment, neutralized, without stereo or isotopes (chemistry.standardize)
        raws = [s.smiles or "" for s in standardize_many(raws, lambda written: [], "always")]
    canonical = chem.canonicalize_many(raws)
    written = chem.written_many([c or "" for c in canonical], kekule)
    return [(c, w if c is not None else None) for c, w in zip(canonical, written)]


def validate_rows(
    rows: Sequence[tuple[int, str]], max_length: int, kekule: bool = False, standardize: bool = False,
) -> tuple[list[str], list[int], list[list[str]], list[Rejected]]:
    """Canonical SMILES, lines and tokens of the usable rows, and the rejected rows (file order kept). The tokens
    are those of the canonical SMILES, or (``kekule``) of its Kekulé form; with ``standardize`` each row is first
    reduced to its largest fragment, neutralized and stripped of stereo and isotopes."""
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
    canonical = _canonicalize([raw for _, raw in candidates], kekule, standardize)
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



def _cache_key(content_sha256: str, smiles_column: str | None, max_length: int, kekule: bool,
               standardize: bool = False) -> str:
    from rdkit import __version__ as rdkit_version

    settings = [content_sha256, READER_VERSION, _TOKEN_PATTERN, smiles_column, max_length, rdkit_version]
    settings = settings + ["kekule"] if kekule else settings  # aromatic caches keep their old keys
    settings = json.dumps(settings + ["standardize"] if standardize else settings)
    return hashlib.sha256(settings.encode()).hexdigest()[:32]


def _save_cache(target: Path, corpus: Corpus) -> None:
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
    write_cache(target, buffer.getvalue())


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
    standardize: bool = False,
) -> Corpus:
    """Read, validate, canonicalize and tokenize a SMILES file (cached by content hash and settings).

    ``smiles`` are canonical SMILES; the token ids are theirs, or (``kekule``) those of their Kekulé forms.

    Raises ``DataError`` for an unreadable file, a wrong column, no usable molecule, or (``strict``) any bad row.
    """
    path = Path(path)
    check_input_path(path)
    content_sha256 = file_sha256(path)
    key = _cache_key(content_sha256, smiles_column, max_length, kekule, standardize)
    target = cache_dir() / f"{key}.npz"
    corpus = _load_cache(target, path) if use_cache and target.exists() else None
    if corpus is None:
        column, rows = read_rows(path, smiles_column)
        smiles, lines, tokens, rejected = validate_rows(rows, max_length, kekule, standardize)
        vocab = Vocabulary.build(tokens, max_length=max_length)
        ids, lengths = _padded_ids(tokens, vocab)
        corpus = Corpus(path, column, smiles, np.asarray(lines, dtype=np.int64), ids, lengths, vocab, rejected,
                        n_rows=len(rows))
        if use_cache and smiles:
            _save_cache(target, corpus)  # a cache folder that cannot be written costs speed (a warning), not the data
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


def remap_to_vocab(corpus: Corpus, vocab: Vocabulary) -> np.ndarray:
    """The corpus token ids (N, T) renumbered into ``vocab``; an error names tokens that ``vocab`` lacks."""
    missing = [t for t in corpus.vocab.tokens if t not in vocab.index]
    if missing:
        raise DataError(f"{corpus.path} has tokens the model's vocabulary lacks: {missing}")
    table = np.array([vocab.index[t] for t in corpus.vocab.tokens], dtype=np.int16)
    return table[corpus.ids]
