"""Sampled molecules as tables: decoding in chunks, scoring them, novelty against the training set."""

from molvae.generation.table import sample_table

__all__ = [
    "sample_table",
]
