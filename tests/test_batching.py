from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae.errors import DataError
from molvae.training.batching import bucket_batches, collate, iter_batches, split_indices


def test_split_is_deterministic_disjoint_and_complete() -> None:
    train, val = split_indices(1000, 0.1, seed=3)
    again_train, again_val = split_indices(1000, 0.1, seed=3)
    assert np.array_equal(train, again_train) and np.array_equal(val, again_val)
    assert len(val) == 100 and set(train) | set(val) == set(range(1000)) and not set(train) & set(val)
    assert not np.array_equal(val, split_indices(1000, 0.1, seed=4)[1])
    with pytest.raises(DataError, match="at least 2 molecules"):
        split_indices(1, 0.1, seed=0)


def test_bucket_batches_cover_everything_once_with_similar_lengths() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, size=5000)
    batches = bucket_batches(lengths, 32, seed=1, epoch=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(5000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread <= 3  # random batches would spread over ~50 tokens
    assert all(np.array_equal(a, b) for a, b in zip(batches, bucket_batches(lengths, 32, seed=1, epoch=0)))
    assert not np.array_equal(np.concatenate(bucket_batches(lengths, 32, seed=1, epoch=1)), flat)


def test_ranks_together_see_the_single_process_batches() -> None:
    lengths = np.arange(1000) % 40
    single = bucket_batches(lengths, 48, seed=0, epoch=2)
    shards = [bucket_batches(lengths, 16, seed=0, epoch=2, rank=r, world_size=3) for r in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == len(single)
    for i, batch in enumerate(single):
        assert sorted(np.concatenate([s[i] for s in shards]).tolist()) == sorted(batch.tolist())


def test_collate_cuts_to_the_longest_row_and_iter_batches_keeps_the_order() -> None:
    ids = np.arange(40, dtype=np.int32).reshape(4, 10)
    lengths = np.array([3, 7, 2, 5])
    batch, batch_lengths = collate(ids, lengths, np.array([0, 2]))
    assert batch.dtype == torch.int64 and batch.tolist() == [[0, 1, 2], [20, 21, 22]] and batch_lengths.tolist() == [3, 2]
    parts = list(iter_batches(ids, lengths, 3))
    assert [p[1].tolist() for p in parts] == [[3, 7, 2], [5]] and [p[0].shape[1] for p in parts] == [7, 5]
