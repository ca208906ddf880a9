"""Randomized-SMILES augmentation (``train.augment``): each training molecule is shown in a fresh random spelling
every time it is drawn (Arus-Pous et al. 2019, J. Cheminform. 11:71), so the model sees many strings per molecule.

- ``encoder``: the encoder reads the random spelling, the decoder still writes the canonical one (a latent code
  that does not depend on how the molecule was written);
- ``both``: the encoder reads and the decoder writes the same random spelling.
A spelling the vocabulary cannot express (a ring label above the known ones, too many tokens) falls back to the
molecule's canonical string, so no molecule is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from molvae.chemistry import chem
from molvae.errors import VocabularyError
from molvae.smiles.tokenizer import Vocabulary


def step_seed(seed: int, step: int) -> int:
    """The spelling seed of one training step: the same step of the same run gets the same strings (resume)."""
    return int(np.random.SeedSequence([seed, step, 0x5A11]).generate_state(1)[0])


def randomized_batch(smiles: Sequence[str], canonical_ids: torch.Tensor, canonical_lengths: torch.Tensor,
                     vocab: Vocabulary, kekule: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Ids (B, T') and lengths (B,) of a random spelling of each canonical SMILES in ``smiles``; rows the vocabulary
    cannot express keep their canonical ids (``canonical_ids`` (B, T), ``canonical_lengths`` (B,)). Also returns how
    many rows fell back."""
    rows: list[list[int]] = []
    fallback = 0
    for i, spelled in enumerate(chem.random_spellings(smiles, kekule, seed)):
        try:
            rows.append(vocab.token_ids(spelled) if spelled is not None else [])
        except VocabularyError:
            rows.append([])
        if not rows[-1]:
            fallback += 1
            rows[-1] = canonical_ids[i, 1 : int(canonical_lengths[i]) - 1].tolist()
    ids, lengths = vocab.pad(rows)
    return ids, lengths, fallback
