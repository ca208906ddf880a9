"""Combining the part files of a sharded sample (``molvae sample --shard I/K`` or torchrun ranks) into one file,
chunk by chunk, optionally keeping only the first occurrence of each molecule across all parts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from molvae.chemistry.novelty import string_hashes
from molvae.errors import DataError
from molvae.generation.stream import HashSet
from molvae.outputs import TableWriter

CHUNK = 100_000


def read_chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The rows of a .csv, .csv.gz or .parquet part file, CHUNK at a time."""
    if not path.is_file():
        raise DataError(f"{path}: no such part file")
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, chunksize=CHUNK, keep_default_na=False, na_values=[""])


def combine(parts: Sequence[Path], writer: TableWriter, unique: bool = False) -> tuple[int, int]:
    """Append the parts' rows to ``writer`` in the order given; with ``unique`` only valid molecules whose canonical
    SMILES has not come before (in any part). Returns (rows read, rows written); the caller commits the writer."""
    seen, read, columns = HashSet(), 0, None
    for path in parts:
        for frame in read_chunks(Path(path)):
            if columns is None:
                columns = list(frame.columns)
            elif list(frame.columns) != columns:
                raise DataError(f"{path}: columns {list(frame.columns)} differ from the first part's {columns}")
            read += len(frame)
            if unique:
                if "canonical_smiles" not in frame.columns:
                    raise DataError(f"{path}: --unique needs a canonical_smiles column")
                frame = frame[frame.canonical_smiles.notna() & (frame.canonical_smiles != "")]
                frame = frame[seen.add_new(string_hashes(frame.canonical_smiles.tolist()))]
            writer.write(frame)
    return read, writer.rows
