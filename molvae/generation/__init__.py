"""Sampled molecules as tables at any scale: decoding in seeded blocks, scoring chunks in worker processes,
novelty against the training set, and shards (``generation.stream``)."""

from molvae.generation.stream import BLOCK, HashSet, StreamOptions, Tally, block_seed, iter_frames, parse_shard

__all__ = [
    "BLOCK",
    "HashSet",
    "StreamOptions",
    "Tally",
    "block_seed",
    "iter_frames",
    "parse_shard",
]
