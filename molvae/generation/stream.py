"""Sampling at scale: molecules decoded block by block, scored in worker processes while the next chunk decodes, and
yielded as frames, so memory does not grow with the number of molecules.

Determinism: molecule ``i`` is row ``i % BLOCK`` of block ``i // BLOCK``, and a block is decoded from its own seed
(``block_seed(seed, block)``), always whole. So the same seed gives the same molecules whatever the chunk size, the
number of scoring workers or the number of shards; shard ``I`` of ``K`` takes the blocks ``I, I + K, ...``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from molvae.chemistry import chem
from molvae.chemistry.novelty import known, string_hashes
from molvae.chemistry.scoring import score_smiles
from molvae.errors import ConfigError

BLOCK = 1024  # molecules decoded together from one seed: the unit of determinism


def block_seed(seed: int, block: int) -> int:
    """The seed of one block: a hash of (seed, block) (numpy's SeedSequence), the same on every machine."""
    return int(np.random.SeedSequence([seed, block]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def parse_shard(text: str) -> tuple[int, int]:
    """'I/K' -> (I, K) with 0 <= I < K; ConfigError otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/K, e.g. 0/4 for the first of four parts") from None
    if not 0 <= index < count:
        raise ConfigError(f"--shard {text!r}: expected 0 <= I < K")
    return index, count


def shard_blocks(n: int, shard: tuple[int, int]) -> list[int]:
    """The blocks of ``n`` molecules that belong to shard (I, K)."""
    index, count = shard
    return list(range(index, -(-n // BLOCK), count))


class HashSet:
    """A compact set of 64-bit hashes of canonical SMILES (8 bytes each): a sorted array and a small buffer."""

    def __init__(self) -> None:
        self.sorted = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sorted)

    def add_new(self, hashes: np.ndarray) -> np.ndarray:
        """Add the hashes (N,); True where one was not in the set before (and is the first of its kind in hashes)."""
        _, first = np.unique(hashes, return_index=True)
        fresh = np.zeros(len(hashes), dtype=bool)
        fresh[first] = True
        if len(self.sorted):
            where = np.searchsorted(self.sorted, hashes).clip(max=len(self.sorted) - 1)
            fresh &= self.sorted[where] != hashes
        self.sorted = np.union1d(self.sorted, hashes[fresh])
        return fresh


@dataclass
class Tally:
    """Counts over everything drawn so far, for the summary line and the summary file."""

    n: int = 0
    valid: int = 0
    distinct: int = 0
    novel: int = 0  # distinct valid molecules not in the training set
    rows: int = 0  # rows yielded (after --valid-only / --unique)
    novelty_known: bool = True

    def as_dict(self, seconds: float) -> dict[str, float]:
        return {"n": self.n, "valid": self.valid / max(1, self.n), "unique": self.distinct / max(1, self.valid),
                "novel": self.novel / max(1, self.distinct) if self.novelty_known else float("nan"),
                "rows": self.rows, "seconds": seconds, "molecules_per_s": self.n / max(seconds, 1e-9)}


@dataclass
class StreamOptions:
    """What each chunk holds and how it is made."""

    score: bool = True
    valid_only: bool = False
    unique: bool = False
    n_jobs: int = 0  # scoring processes; 0: all cores
    chunk_size: int = 100_000
    progress: bool = False
    tally: Tally = field(default_factory=Tally)


def _table(raw: list[str], score: bool) -> pd.DataFrame:
    """Rows of decoded strings: smiles, valid, canonical_smiles (and the RDKit scores when ``score``)."""
    if score:
        return score_smiles(raw, n_jobs=1)
    frame = pd.DataFrame({"smiles": raw, "canonical_smiles": chem.canonicalize_many(raw)})
    frame.insert(1, "valid", frame.canonical_smiles.notna())
    return frame


def _finish(frame: pd.DataFrame, table: np.ndarray | None, seen: HashSet, options: StreamOptions) -> pd.DataFrame:
    """Novelty, the tally and the row filters of one scored chunk."""
    valid = frame.valid.to_numpy(dtype=bool)
    canonical = [c if v else "" for c, v in zip(frame.canonical_smiles, valid)]
    first = np.zeros(len(frame), dtype=bool)
    if valid.any():
        first[valid] = seen.add_new(string_hashes([canonical[i] for i in np.flatnonzero(valid)]))
    tally = options.tally
    tally.n += len(frame)
    tally.valid += int(valid.sum())
    tally.distinct += int(first.sum())
    if table is not None:
        frame["novel"] = valid & ~known([c if c else None for c in canonical], table)
        tally.novel += int((first & frame.novel.to_numpy()).sum())
    else:
        tally.novelty_known = False
    if options.unique:
        frame = frame[first]
    elif options.valid_only:
        frame = frame[valid]
    tally.rows += len(frame)
    return frame.reset_index(drop=True)


def iter_frames(decode_block: Callable[[int], list[str]], n: int, shard: tuple[int, int],
                table: np.ndarray | None, options: StreamOptions) -> Iterator[pd.DataFrame]:
    """Frames of this shard's share of ``n`` molecules, in block order, a chunk (about ``chunk_size`` molecules) at a
    time. ``decode_block(b)`` gives block b's BLOCK strings; the last block of the n is cut to size. Scoring runs in
    worker processes while the main process decodes the next chunk."""
    blocks = shard_blocks(n, shard)
    per_chunk = max(1, options.chunk_size // BLOCK)
    chunks = [blocks[i : i + per_chunk] for i in range(0, len(blocks), per_chunk)]
    total = sum(min(BLOCK, n - b * BLOCK) for b in blocks)
    seen = HashSet()
    workers = options.n_jobs or os.cpu_count() or 1
    bar = tqdm(total=total, disable=not options.progress, desc="sample", unit="mol", unit_scale=True,
               dynamic_ncols=True)
    pending: list[list[Future]] = []  # per chunk, the futures of its pieces (one per worker)
    pool = ProcessPoolExecutor(max_workers=workers) if options.score or workers > 1 else None
    threads = torch.get_num_threads()
    if pool is not None and len(chunks) > 1:  # decoding overlaps scoring: one decoding thread, the other cores
        torch.set_num_threads(1)  # score (OpenMP threads waiting on preempted peers cost more than they gave)
    try:
        for chunk in chunks:
            raw = [s for b in chunk for s in decode_block(b)[: n - b * BLOCK]]
            pending.append(_submit(pool, raw, options.score, workers))
            while len(pending) > 1 or (pending and all(f.done() for f in pending[0])):
                frame = pd.concat([f.result() for f in pending.pop(0)], ignore_index=True)
                bar.update(len(frame))
                yield _finish(frame, table, seen, options)
        for futures in pending:
            frame = pd.concat([f.result() for f in futures], ignore_index=True)
            bar.update(len(frame))
            yield _finish(frame, table, seen, options)
    finally:
        torch.set_num_threads(threads)
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor | None, raw: list[str], score: bool, workers: int) -> list[Future]:
    """The scoring of one chunk, split into a piece per worker (in the main process without a pool)."""
    if pool is None:
        return [_done(_table(raw, score))]
    size = -(-len(raw) // workers)
    return [pool.submit(_table, raw[i : i + size], score) for i in range(0, len(raw), size)]


def _done(value: pd.DataFrame) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future
