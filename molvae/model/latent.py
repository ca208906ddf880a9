"""``LatentModel``: what code below the API needs of a trained model, as a protocol (``molvae.api.MolVAE`` is one).

The optimizers, the property fit and the sample table take any object with these members, so nothing below ``api``
imports ``api`` (not even for type hints) and each can be tested with a small stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from molvae.config import Config
from molvae.model.vae import VAE
from molvae.smiles.tokenizer import Vocabulary


@runtime_checkable
class LatentModel(Protocol):
    """A trained VAE with its vocabulary: SMILES in, latent vectors (B, Z) out, and back."""

    model: VAE  # the network (its property head, when it has one, serves the gradient search)
    config: Config
    vocab: Vocabulary
    device: torch.device

    @property
    def latent_dim(self) -> int:
        """Z, the size of a latent vector."""
        ...

    def encode(self, smiles: Sequence[str] | str, sample: bool = False, errors: str = "raise",
               seed: int | None = None, batch_size: int = 1024, standardize: str = "auto") -> torch.Tensor:
        """z (B, Z) of each molecule, standardized to what the model can express (auto | always | none); with
        ``errors="skip"`` a molecule that cannot be read gives a NaN row."""
        ...

    def encode_standardized(self, results: Sequence[Any], sample: bool = False, errors: str = "raise",
                            seed: int | None = None, batch_size: int = 1024, policy: str = "auto") -> torch.Tensor:
        """z (B, Z) of molecules ``standardize`` has already prepared."""
        ...

    def standardize(self, smiles: Sequence[str] | str, policy: str = "auto") -> list[Any]:
        """``chemistry.standardize.Standardized`` of each molecule: as the model will read it, and what changed."""
        ...

    def decode(self, z: torch.Tensor | np.ndarray, temperature: float = 0.0, n_attempts: int = 1,
               beam_width: int = 1, seed: int | None = None, batch_size: int = 2048,
               syntax_mask: bool = True) -> list[str | None]:
        """Canonical SMILES of each z (B, Z), None where no valid molecule came out."""
        ...

    def sample(self, n: int, temperature: float | None = None, seed: int | None = None, source: str = "prior",
               valid_only: bool = False, unique: bool = False, syntax_mask: bool = True) -> list[str]:
        """n decoded strings; the same seed gives the same strings."""
        ...

    def draw_z(self, n: int, generator: torch.Generator, source: str = "prior") -> torch.Tensor:
        """n latent points (n, Z) from a source of the model ('prior', 'flow', 'mixture', 'aggregate')."""
        ...

    @property
    def sample_source(self) -> str:
        """The source this model samples z from by default."""
        ...

    def training_hashes(self) -> np.ndarray | None:
        """Sorted 64-bit hashes of the canonical training SMILES, or None when unknown."""
        ...
