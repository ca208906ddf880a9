from __future__ import annotations

import numpy as np

from molvae.chemistry.novelty import known, smiles_hashes


def test_hash_table_is_sorted_unique_and_finds_exactly_its_members() -> None:
    table = smiles_hashes(["CCO", "c1ccccc1", "CCO", "CCN"])
    assert table.dtype == np.int64 and len(table) == 3 and np.all(np.diff(table) > 0)
    assert known(["CCN", "CCC", None, "c1ccccc1", "OCC"], table).tolist() == [True, False, False, True, False]
    assert known([], table).tolist() == [] and known([None], table).tolist() == [False]


def test_hashes_do_not_collide_on_many_similar_strings() -> None:
    smiles = [f"C{'C' * (i % 50)}N{i}" for i in range(100_000)]
    assert len(smiles_hashes(smiles)) == len(set(smiles))


def test_known_matches_isin_on_sorted_unsorted_and_empty_tables() -> None:
    from molvae.chemistry.novelty import string_hashes as _hashes

    pool = [f"C{'C' * i}O" for i in range(300)]
    table = smiles_hashes(pool[::2])
    queries = pool + [None, "N"]
    expected = [s is not None and bool(np.isin(_hashes([s]), table)[0]) for s in queries]
    assert known(queries, table).tolist() == expected
    shuffled = np.random.default_rng(0).permutation(table)
    assert known(queries, shuffled).tolist() == expected
    assert not known(queries, np.zeros(0, dtype=np.int64)).any()
