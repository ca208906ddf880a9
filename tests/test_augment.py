from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from molvae.chemistry import chem
from molvae.config import TrainConfig, load_config
from molvae.errors import ConfigError
from molvae.model.checkpoint import load_checkpoint
from molvae.smiles.tokenizer import Vocabulary
from molvae.training.augment import randomized_batch, step_seed
from molvae.training.train import fit, resume_config

MOLECULES = ["CC(=O)Nc1ccc(O)cc1", "c1ccc2c(c1)cccn2", "OCC1CCCC(N)C1", "CSc1nc(C)cc(Cl)n1"]


def test_random_spellings_are_the_same_molecules_written_another_way() -> None:
    canonical = [chem.canonical_smiles(s) for s in MOLECULES]
    for kekule in (False, True):
        spelled = chem.random_spellings(canonical, kekule, seed=3)
        assert [chem.canonical_smiles(s) for s in spelled] == canonical
        assert chem.random_spellings(canonical, kekule, seed=3) == spelled  # seeded
        if kekule:
            assert not any(c in s for s in spelled for c in "cnos")  # no aromatic atoms in Kekulé form
    many = {chem.random_spellings(canonical[:1], False, seed=s)[0] for s in range(20)}
    assert len(many) > 3  # different seeds, different spellings


def test_randomized_batch_falls_back_to_the_canonical_ids_where_the_vocabulary_falls_short() -> None:
    canonical = [chem.canonical_smiles(s) for s in MOLECULES]
    written = chem.written_many(canonical, kekule=True)
    vocab = Vocabulary.build(written)
    ids, lengths = vocab.encode(written)
    spelled_ids, spelled_lengths, fallback = randomized_batch(canonical, ids, lengths, vocab, True, seed=1)
    assert fallback == 0 and spelled_ids.shape[0] == len(canonical)
    assert [chem.canonical_smiles(s) for s in vocab.decode(spelled_ids)] == canonical
    tight = Vocabulary(vocab.tokens, max_length=1)  # no spelling fits: every row keeps its canonical ids
    kept_ids, kept_lengths, fallback = randomized_batch(canonical, ids, lengths, tight, True, seed=2)
    assert fallback == len(canonical)
    assert torch.equal(kept_ids, ids) and torch.equal(kept_lengths, lengths)


def test_step_seed_differs_between_steps_and_repeats_for_the_same_step() -> None:
    assert step_seed(0, 5) == step_seed(0, 5)
    assert len({step_seed(0, s) for s in range(100)}) == 100


def test_augment_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="augment"):
        TrainConfig(augment="sometimes")


@pytest.mark.parametrize("mode", ["encoder", "both"])
def test_training_with_randomized_smiles_runs_and_resumes_to_the_same_weights(
    mode: str, small_csv: Path, tiny_config_path: Path, tmp_path: Path
) -> None:
    config = load_config(tiny_config_path).with_overrides({"augment": mode, "max_steps": 16, "epochs": 2,
                                                           "lr_schedule": "constant", "val_every": 8})
    straight = fit(small_csv, config, out=tmp_path / "straight", progress=False)
    assert straight.step == 16
    fit(small_csv, config.with_overrides({"max_steps": 9}), out=tmp_path / "cut", progress=False)
    fit(small_csv, resume_config(tmp_path / "cut", {"max_steps": 16}), resume=tmp_path / "cut", progress=False)
    a = load_checkpoint(tmp_path / "straight" / "last").model_state
    b = load_checkpoint(tmp_path / "cut" / "last").model_state
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = pd.read_csv(tmp_path / "straight" / "metrics.csv").query("split == 'train'")
    assert rows.loss.notna().all()
