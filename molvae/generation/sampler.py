"""Sampling from a trained model: where z comes from (N(0, I), the aggregate posterior's Gaussian, the fitted
mixture prior or the flow prior), seeded blocks of molecules, and samples as lists, streamed frames or one table.
``MolVAE`` builds on ``Sampler``; its methods are documented there."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count, check_number
from molvae.chemistry import chem
from molvae.chemistry.novelty import smiles_hashes
from molvae.config import Config
from molvae.errors import CheckpointError, ConfigError, DataError
from molvae.generation.stream import BLOCK, StreamOptions, Tally, block_seed, iter_frames, shard_blocks
from molvae.model.checkpoint import Checkpoint
from molvae.model.flow import FlowPrior
from molvae.model.prior import MixturePrior
from molvae.model.sampling import decode_z, prior_batches
from molvae.model.vae import VAE
from molvae.smiles.corpus import load_corpus
from molvae.smiles.files import file_sha256
from molvae.smiles.tokenizer import Vocabulary

SOURCES = ("prior", "aggregate", "mixture", "flow")  # where z comes from when sampling


def check_source(source: str) -> None:
    """``source`` is one of SOURCES."""
    if source not in SOURCES:
        raise ConfigError(f"source = {source!r}; expected one of {SOURCES}")


class Sampler:
    """Sampling methods of a loaded model (``MolVAE``): needs its checkpoint, network, vocabulary,
    config, precision and source."""

    checkpoint: Checkpoint
    model: VAE
    vocab: Vocabulary
    config: Config
    precision: str
    source: Path | None
    _training_hashes: np.ndarray | None
    _flow_prior: FlowPrior | None = None  # the checkpoint's flow, built on first use (``fit_prior`` resets it)

    @property
    def latent_dim(self) -> int:
        """Z, the size of a latent vector."""
        return self.model.latent_dim

    def training_hashes(self) -> np.ndarray | None:
        """Hashes (``molvae.chemistry.novelty.smiles_hashes``) of the canonical SMILES the model was trained on: stored in the
        checkpoint (the bundled model has them), else read from its data file if that is still where it was,
        unchanged; None when neither is at hand."""
        if self._training_hashes is None:
            stored = self.checkpoint.extra_tensors.get("training_hashes")
            if stored is not None:
                self._training_hashes = stored.numpy()
            else:
                info = self.checkpoint.train_state.get("data", {})
                data = Path(info.get("path", ""))
                if not info or not data.is_file() or file_sha256(data) != info.get("sha256"):
                    return None
                self._training_hashes = self.file_hashes(data)
        return self._training_hashes

    def file_hashes(self, path: Path) -> np.ndarray:
        """Hashes of the canonical SMILES of a data file, read as this model read its training file."""
        data = self.config.data
        corpus = load_corpus(path, data.smiles_column, data.max_length, kekule=data.kekule,
                             standardize=data.standardize == "always")
        return smiles_hashes(corpus.smiles)

    def store_training_set(self) -> int:
        """Keep the training set's hashes in this model (written by ``save``), so it can tell novel samples without
        the data file; returns how many molecules. The data file must be where training read it."""
        table = self.training_hashes()
        if table is None:
            info = self.checkpoint.train_state.get("data", {})
            raise DataError(f"the training file {info.get('path', '(not recorded)')!r} of this model is missing or "
                            "changed since training")
        self.checkpoint.extra_tensors["training_hashes"] = torch.from_numpy(table)
        return len(table)

    def draw_z(self, n: int, generator: torch.Generator, source: str = "prior") -> torch.Tensor:
        """n latent points (n, Z): from N(0, I) ('prior'), the aggregate posterior's Gaussian ('aggregate'), the
        mixture fitted to it ('mixture') or the flow fitted to it ('flow'; both: ``fit_prior``)."""
        check_source(source)
        extra = self.checkpoint.extra_tensors
        if source == "flow":
            return self.flow_prior().sample(n, generator)
        if source == "mixture":
            mixture = MixturePrior.from_tensors(extra)
            if mixture is None:
                raise CheckpointError(f"{self.source} has no fitted mixture prior; fit one with fit_prior() (molvae "
                                      "fit-prior) or use source='prior'")
            return mixture.sample(n, generator)
        if source == "aggregate" and "aggregate_mean" not in extra:
            raise CheckpointError(f"{self.source} stores no aggregate posterior; use source='prior'")
        mean, cov = (extra["aggregate_mean"], extra["aggregate_cov"]) if source == "aggregate" else (None, None)
        return next(prior_batches(n, self.latent_dim, n, generator, mean, cov))

    def flow_prior(self) -> FlowPrior:
        """The flow prior stored in this model (``fit_prior(method='flow')``); CheckpointError when it has none."""
        if self._flow_prior is None:
            self._flow_prior = FlowPrior.from_checkpoint(self.checkpoint.extra_tensors, self.checkpoint.extra)
            if self._flow_prior is None:
                raise CheckpointError(f"{self.source} has no flow prior; fit one with fit_prior(method='flow') "
                                      "(molvae fit-prior --method flow) or use source='prior'")
        return self._flow_prior

    @property
    def sample_source(self) -> str:
        """Where this model recommends drawing z from: the prior fitted last ('mixture' or 'flow', ``fit_prior``),
        else 'prior'."""
        value = self.checkpoint.extra.get("sample_source", "prior")
        return value if value in SOURCES else "prior"

    @property
    def sample_temperature(self) -> float:
        """The temperature this model recommends for sampling (its model card's; 1.0 unless the checkpoint says)."""
        value = self.checkpoint.extra.get("sample_temperature", 1.0)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 else 1.0

    @sample_temperature.setter
    def sample_temperature(self, value: float) -> None:
        check_number("sample_temperature", value)
        self.checkpoint.extra["sample_temperature"] = float(value)  # written by save()

    def decode_block(self, block: int, seed: int, temperature: float, source: str = "prior",
                     syntax_mask: bool = True) -> list[str]:
        """The BLOCK strings of one block of a seeded sample (``generation.stream``): z and the draws of the decoder
        come from the block's own seed, so molecule i is the same however the sample is cut into chunks or shards."""
        generator = torch.Generator().manual_seed(block_seed(seed, block))
        z = self.draw_z(BLOCK, generator, source)
        return decode_z(self.model, self.vocab, z, temperature, temperature == 0, generator, BLOCK,
                        syntax_mask=syntax_mask, precision=self.precision)

    def _sampling(self, n: int, temperature: float | None, seed: int | None,
                  source: str | None) -> tuple[float, int, str]:
        """Checked arguments of a sample: (temperature, seed, source); None means the model's recommended
        temperature and source, and a random seed."""
        check_count("n", n)
        temperature = self.sample_temperature if temperature is None else temperature
        check_number("temperature", temperature)
        source = self.sample_source if source is None else source
        check_source(source)
        return temperature, int(torch.randint(0, 2**62, (1,))) if seed is None else seed, source

    def sample(
        self, n: int, temperature: float | None = None, seed: int | None = None, source: str | None = None,
        valid_only: bool = False, unique: bool = False, syntax_mask: bool = True,
    ) -> list[str]:
        """n decoded strings; the same seed gives the same molecules, and the first m of n are those of a sample of m.

        ``temperature`` None: the model's ``sample_temperature``. ``source`` (where z comes from: 'prior' N(0, I),
        'mixture' or 'flow' the prior fitted to the training molecules' codes, 'aggregate' its single-Gaussian
        version) None:
        the model's ``sample_source``. ``valid_only``/``unique`` filter the n draws
        (canonical SMILES then), so fewer than n may come back. ``syntax_mask``: the decoder may only write
        syntactically valid SMILES (branches and rings closed, no dangling bonds; molvae.smiles.grammar); False gives
        the raw decoder's strings. For millions of molecules use ``iter_samples``.
        """
        temperature, seed, source = self._sampling(n, temperature, seed, source)
        out = [s for b in shard_blocks(n, (0, 1))
               for s in self.decode_block(b, seed, temperature, source, syntax_mask)[: n - b * BLOCK]]
        if valid_only or unique:
            out = [c for c in chem.canonicalize_many(out) if c is not None]
        if unique:
            out = list(dict.fromkeys(out))
        return out

    def iter_samples(
        self, n: int, chunk_size: int = 100_000, temperature: float | None = None, seed: int | None = None,
        source: str | None = None, score: bool = True, valid_only: bool = False, unique: bool = False, n_jobs: int = 0,
        syntax_mask: bool = True, shard: tuple[int, int] = (0, 1), progress: bool = False, tally: Tally | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Samples as frames of about ``chunk_size`` rows (smiles, valid, canonical_smiles, the RDKit scores unless
        ``score`` is False, novel when the training set is known), decoded chunk by chunk and scored in ``n_jobs``
        worker processes while the next chunk decodes: memory does not grow with n. ``shard`` (I, K): only the
        I-th of K disjoint parts (together, the K parts are the n molecules). ``tally`` (a ``Tally``) is filled with
        the counts of everything drawn (valid, distinct, novel), whatever the filters."""
        temperature, seed, source = self._sampling(n, temperature, seed, source)
        check_count("chunk_size", chunk_size)
        if n_jobs < 0:
            raise ConfigError(f"n_jobs = {n_jobs}; expected 0 (all cores) or more")
        options = StreamOptions(score, valid_only, unique, n_jobs, chunk_size, progress, tally or Tally())
        decode = lambda block: self.decode_block(block, seed, temperature, source, syntax_mask)  # noqa: E731
        return iter_frames(decode, n, shard, self.training_hashes(), options)

    def sample_frame(
        self, n: int, temperature: float | None = None, seed: int | None = None, source: str | None = None,
        valid_only: bool = False, unique: bool = False, score: bool = True, n_jobs: int = 0, syntax_mask: bool = True,
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        """Samples as one table (``iter_samples``' frames together) and a summary: n, valid, unique and novel
        fractions, seconds and molecules per second."""
        start, tally = time.perf_counter(), Tally()
        frames = list(self.iter_samples(n, n, temperature, seed, source, score, valid_only, unique, n_jobs,
                                        syntax_mask, tally=tally))
        return pd.concat(frames, ignore_index=True), tally.as_dict(time.perf_counter() - start)

