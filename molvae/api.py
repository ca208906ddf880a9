"""``MolVAE``: load a trained model, then encode, decode, sample, interpolate, explore and score molecules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count, check_number, seeded
from molvae.chemistry import chem
from molvae.chemistry.scoring import score_smiles
from molvae.chemistry.standardize import Standardized, check_policy, standardize_many
from molvae.chemistry.standardize import summary as standardization_summary
from molvae.device import resolve_device, resolve_precision
from molvae.errors import CheckpointError, ConfigError, DataError, TokenizeError, VocabularyError
from molvae.generation.sampler import Sampler
from molvae.model.bundled import BUNDLED_MODEL as _BUNDLED_MODEL
from molvae.model.bundled import bundled_model_path as _bundled_model_path
from molvae.model.bundled import named_model_path as _named_model_path
from molvae.model.checkpoint import Checkpoint, load_checkpoint, resolve_path
from molvae.model.sampling import around, decode_z, path
from molvae.smiles.files import read_rows
from molvae.smiles.tokenizer import tokenize

BUNDLED_MODEL = _BUNDLED_MODEL  # here so that tests can point it elsewhere


def bundled_model_path() -> Path:
    """The model that ships inside the package, after checking its sha256 against the one recorded beside it."""
    return _bundled_model_path(BUNDLED_MODEL)


def model_path(spec: str | Path | None) -> Path:
    """The checkpoint file of a model: None (the bundled default), a bundled model's name ('zinc250k'), a run
    folder (its best checkpoint) or a checkpoint file."""
    return _named_model_path(spec, BUNDLED_MODEL) or resolve_path(spec)


class MolVAE(Sampler):
    """A trained SMILES VAE with its vocabulary; every method takes and returns plain Python/torch/pandas values."""

    def __init__(
        self, checkpoint: Checkpoint, device: str = "cpu", source: Path | None = None, precision: str = "fp32",
    ) -> None:
        self.checkpoint = checkpoint
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)  # of decoding: fp32 | bf16
        self.model = checkpoint.build_model().to(self.device)
        self.vocab = checkpoint.vocab
        self.config = checkpoint.config
        self.source = source
        self._training_hashes: np.ndarray | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", precision: str = "fp32") -> MolVAE:
        """A model from a checkpoint file or run folder (its best checkpoint), or a bundled model: the default when
        path is None, or by name ('zinc250k': ZINC-250k's dialect, charged amines and stereo).

        ``precision`` of decoding: 'fp32', 'bf16' (the decoder's matrix products in bf16: about 2x faster sampling
        on a CPU with AVX512-BF16 or AMX, slower on one without), or 'auto' (bf16 where it is native).
        """
        path = model_path(path)
        checkpoint = load_checkpoint(path)
        return cls(checkpoint, device=device, source=Path(path), precision=precision)

    def __repr__(self) -> str:
        return f"MolVAE({self.source}, latent_dim={self.latent_dim}, vocab={len(self.vocab)} tokens)"

    # ---------------------------------------------------------------------------------------------- encode / decode

    def written(self, canonical: str) -> str:
        """The string this model reads for a canonical SMILES: itself, or its Kekulé form (``config.data.kekule``)."""
        written = chem.written_many([canonical], self.config.data.kekule)[0]
        if written is None:
            raise VocabularyError(f"{canonical!r}: RDKit cannot write it in Kekulé form, the form this model reads")
        return written

    def missing_tokens(self, written: str) -> list[str]:
        """The tokens of a written SMILES this model's vocabulary lacks (a description when it is too long or does not
        tokenize); empty when the model can read it."""
        try:
            self.vocab.token_ids(written)
        except VocabularyError:
            try:
                unknown = sorted({t for t in tokenize(written) if t not in self.vocab.index})
            except TokenizeError as exc:
                return [f"(cannot tokenize: {exc})"]
            return unknown or [f"(longer than max_length = {self.vocab.max_length} tokens)"]
        except TokenizeError as exc:
            return [f"(cannot tokenize: {exc})"]
        return []

    def standardize(self, smiles: Sequence[str] | str, policy: str = "auto") -> list[Standardized]:
        """Each molecule as this model will read it: what changed ('salt removed', 'charge neutralized', 'stereo
        removed', 'isotopes removed') and the tokens still missing (``molvae.chemistry.standardize``). ``policy``:
        'auto' changes a molecule only as far as the vocabulary requires, 'always' applies every change, 'none'
        none."""
        smiles = [smiles] if isinstance(smiles, str) else list(smiles)
        return standardize_many([s if isinstance(s, str) else "" for s in smiles], self.missing_tokens, policy,
                                self.config.data.kekule)

    @staticmethod
    def _unreadable(result: Standardized, policy: str) -> VocabularyError:
        if result.smiles is None:
            return VocabularyError(f"{result.given!r} is not a valid SMILES string (RDKit cannot parse it)")
        if result.written is None:
            return VocabularyError(f"{result.smiles!r}: RDKit cannot write it in Kekulé form, the form this model reads")
        hint = "" if policy != "none" else "; --standardize auto (the default) may make it readable"
        changed = f" after {result.note}" if result.changes else ""
        return VocabularyError(f"molecule {result.given!r}{changed} has token(s) {list(result.missing)} that the "
                               f"vocabulary lacks{hint}")

    @torch.no_grad()
    def encode(
        self, smiles: Sequence[str] | str, sample: bool = False, errors: str = "raise", seed: int | None = None,
        batch_size: int = 1024, standardize: str = "auto",
    ) -> torch.Tensor:
        """z (B, Z) of each molecule: the posterior mean, or a draw with ``sample=True``.

        Molecules are standardized to what the model can express (``standardize``: auto | always | none; see
        ``MolVAE.standardize``, which tells what changed), canonicalized and written in the model's form (Kekulé for
        a model trained on it). One the model cannot read (invalid, unknown tokens, too long) raises
        ``MolVAEError`` naming it; with ``errors="skip"`` its row is NaN instead.
        """
        check_policy(standardize)
        smiles = [smiles] if isinstance(smiles, str) else list(smiles)
        return self.encode_standardized(self.standardize(smiles, standardize), sample, errors, seed, batch_size,
                                        standardize)

    @torch.no_grad()
    def encode_standardized(
        self, results: Sequence[Standardized], sample: bool = False, errors: str = "raise", seed: int | None = None,
        batch_size: int = 1024, policy: str = "auto",
    ) -> torch.Tensor:
        """z (B, Z) of molecules ``MolVAE.standardize`` has already prepared (for callers that also need what
        changed: no second standardization); as ``encode`` otherwise. ``policy``: the one they were prepared with,
        for the error message."""
        if errors not in ("raise", "skip"):
            raise ConfigError(f"errors = {errors!r}; expected 'raise' or 'skip'")
        check_count("batch_size", batch_size)
        bad = next((r for r in results if not r.ok), None)
        if bad is not None and errors == "raise":
            raise self._unreadable(bad, policy)
        rows = [self.vocab.token_ids(r.written) if r.ok else None for r in results]
        out = torch.full((len(rows), self.latent_dim), float("nan"))
        good = [i for i, r in enumerate(rows) if r is not None]
        generator = seeded(seed) if sample else None
        for start in range(0, len(good), batch_size):
            index = good[start : start + batch_size]
            ids, lengths = self.vocab.pad([rows[i] for i in index])
            mu, logvar = self.model.encode(ids.to(self.device), lengths.to(self.device))
            mu, logvar = mu.cpu(), logvar.cpu()
            if sample:
                mu = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
            out[index] = mu
        return out

    def _as_z(self, z: torch.Tensor | np.ndarray | Sequence) -> torch.Tensor:
        try:
            tensor = torch.as_tensor(np.asarray(z, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"z must be a float tensor or array of shape (B, {self.latent_dim}): {exc}") from exc
        if tensor.ndim == 1:
            tensor = tensor.unsqueeze(0)
        if tensor.ndim != 2 or tensor.shape[1] != self.latent_dim:
            raise ConfigError(f"z has shape {tuple(tensor.shape)}; this model expects (B, {self.latent_dim})")
        if not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).any(dim=1).sum())
            raise ConfigError(f"z has {bad} row(s) with NaN or infinite values; drop them first (e.g. rows that "
                              "encode(..., errors='skip') could not encode)")
        return tensor

    def decode(
        self, z: torch.Tensor | np.ndarray, temperature: float = 0.0, n_attempts: int = 1, beam_width: int = 1,
        seed: int | None = None, batch_size: int = 2048, syntax_mask: bool = True,
    ) -> list[str | None]:
        """Canonical SMILES of each z (B, Z), None where no valid molecule came out.

        ``temperature`` 0 decodes greedily; > 0 samples, and with ``n_attempts`` > 1 returns the most frequent valid
        molecule among the attempts. ``beam_width`` > 1 returns the most probable string found by beam search.
        ``syntax_mask``: the decoder may only write syntactically valid SMILES (molvae.smiles.grammar).
        """
        z = self._as_z(z)
        check_number("temperature", temperature)
        check_count("n_attempts", n_attempts)
        check_count("beam_width", beam_width)
        generator = seeded(seed)
        greedy = temperature == 0 and beam_width == 1
        attempts = 1 if greedy or beam_width > 1 else n_attempts
        votes: list[Counter] = [Counter() for _ in range(len(z))]
        for _ in range(attempts):
            strings = decode_z(self.model, self.vocab, z, temperature, greedy, generator, batch_size, beam_width,
                               syntax_mask, self.precision)
            for counter, canonical in zip(votes, chem.canonicalize_many(strings)):
                if canonical is not None:
                    counter[canonical] += 1
        return [counter.most_common(1)[0][0] if counter else None for counter in votes]

    def interpolate(
        self, start: str, end: str, n_steps: int = 10, method: str = "slerp", temperature: float = 0.0,
        seed: int | None = None, standardize: str = "auto",
    ) -> list[str]:
        """Valid molecules decoded along the path from ``start`` to ``end`` in z, consecutive repeats removed. The
        two ends are standardized to what the model can express (``standardize``; ``MolVAE.standardize`` says
        what changed)."""
        check_count("n_steps", n_steps)
        if method not in ("slerp", "linear"):
            raise ConfigError(f"method = {method!r}; expected 'slerp' or 'linear'")
        z = self.encode([start, end], standardize=standardize)
        decoded = self.decode(path(z[0], z[1], max(2, n_steps), method), temperature=temperature, seed=seed)
        out: list[str] = []
        for smiles in decoded:
            if smiles is not None and (not out or out[-1] != smiles):
                out.append(smiles)
        return out

    def neighbors(
        self, smiles: str, n: int = 50, radius: float = 0.5, seed: int | None = None, max_tries: int = 20,
        standardize: str = "auto",
    ) -> list[str]:
        """Up to n valid, unique molecules decoded (greedily) from points around the molecule's z, itself (as given
        and as standardized) excluded."""
        check_count("n", n)
        check_number("radius", radius, strict=True)
        z = self.encode([smiles], standardize=standardize)[0]
        itself = {chem.canonical_smiles(smiles), self.standardize(smiles, standardize)[0].smiles}
        generator = seeded(seed)
        found: dict[str, None] = {}
        for _ in range(max_tries):
            for candidate in self.decode(around(z, 2 * n, radius, generator)):
                if candidate is not None and candidate not in itself:
                    found.setdefault(candidate)
            if len(found) >= n:
                break
        return list(found)[:n]

    # ---------------------------------------------------------------------------------------------- chemistry

    def encode_file(
        self, path: str | Path, smiles_column: str | None = None, errors: str = "raise", sample: bool = False,
        seed: int | None = None, standardize: str = "auto",
    ) -> tuple[torch.Tensor, pd.DataFrame]:
        """z (N, Z) of every row of a SMILES file, and a table of the rows: line, smiles (as given), standardized
        (what changed, '' for nothing), missing (tokens the model lacks, '' when it can read the row). Unreadable
        rows raise an error naming file and line, or become NaN rows with ``errors="skip"``."""
        check_policy(standardize)
        rows = read_rows(path, smiles_column)
        if not rows[1]:
            raise DataError(f"{path}: no rows to encode")
        lines, raws = [line for line, _ in rows[1]], [raw for _, raw in rows[1]]
        results = self.standardize(raws, standardize)
        bad = next((i for i, r in enumerate(results) if not r.ok), None)
        if bad is not None and errors == "raise":
            n_bad = sum(1 for r in results if not r.ok)
            raise DataError(f"{path}:{lines[bad]}: {self._unreadable(results[bad], standardize)} ({n_bad} row(s) "
                            "cannot be encoded; --errors skip writes NaN rows for them)")
        z = self.encode_standardized(results, sample, "skip", seed)
        table = pd.DataFrame({"line": lines, "smiles": raws, "standardized": [r.note for r in results],
                              "missing": [" ".join(r.missing) if r.smiles is not None else "(invalid SMILES)"
                                          for r in results]})
        table.attrs["summary"] = standardization_summary(results)
        return z, table

    def fit_properties(
        self, data: str | Path, properties: Sequence[str] | str, smiles_column: str | None = None,
        max_molecules: int = 50_000, val_fraction: float = 0.1, epochs: int = 100, seed: int = 0,
    ) -> dict[str, dict[str, float]]:
        """Fit the property predictor on the encoded molecules of a frozen VAE; returns held-out MAE and R^2.

        ``properties``: numeric columns of the .csv ``data`` ('logP,qed,SAS' or a list). Up to ``max_molecules``
        rows (drawn by seed) are encoded (posterior means); ``val_fraction`` of them are held out for the errors.
        The head replaces any earlier one; ``save`` writes the model with it.
        """
        from molvae.training.property_fit import fit_on_file

        check_count("max_molecules", max_molecules)
        check_count("epochs", epochs)
        head, names, errors, fit = fit_on_file(self, data, properties, smiles_column, max_molecules, val_fraction,
                                               epochs, seed)
        self.config = self.config.with_overrides({"properties": ",".join(names)})
        self.model.property_head = head.to(self.device)
        self.model.n_properties = len(names)
        self.checkpoint.config = self.config
        self.checkpoint.train_state = {**self.checkpoint.train_state, "property_errors": errors, "property_fit": fit}
        return errors

    def fit_prior(
        self, data: str | Path, n_components: int | None = None, max_molecules: int = 200_000,
        smiles_column: str | None = None, seed: int = 0, method: str = "flow", widen: float = 1.0, epochs: int = 20,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Fit a prior to the codes of up to ``max_molecules`` molecules of ``data`` (its training molecules, as a
        rule) and make it this model's ``sample_source``; ``save`` writes it.

        ``method`` 'flow' (a spline flow, ``molvae.model.flow``, trained ``epochs`` passes over the molecules'
        posteriors), 'em' (``n_components`` Gaussians fitted by EM, default 1024) or 'exemplar' (the posteriors of
        ``n_components`` of the molecules, default 10,000; only those are encoded); ``widen`` multiplies the
        prior's standard deviations when sampling. Returns what it was fitted on."""
        from molvae.training.prior_fit import METHODS, fit_prior_on_file

        if method not in METHODS:
            raise ConfigError(f"method = {method!r}; expected one of {METHODS}")
        n_components = (1024 if method == "em" else 10_000) if n_components is None else n_components
        check_count("n_components", n_components)
        check_count("max_molecules", max_molecules)
        check_count("epochs", epochs)
        check_number("widen", widen, strict=True)
        prior, fit = fit_prior_on_file(self, data, smiles_column, max_molecules, n_components, seed, method, widen,
                                       epochs, progress)
        if method == "flow":
            prior.store(self.checkpoint.extra, self.checkpoint.extra_tensors)
            self._flow_prior = prior
        else:
            self.checkpoint.extra_tensors.update(prior.tensors())
            self.checkpoint.extra["sample_source"] = "mixture"
        self.checkpoint.extra["prior_fit"] = fit
        return fit

    def predict_properties(self, smiles: Sequence[str] | str) -> pd.DataFrame:
        """The property predictor's values for molecules (NaN rows for ones the model cannot encode)."""
        if self.model.property_head is None:
            raise CheckpointError(f"{self.source} has no property predictor; fit one with fit_properties()")
        from molvae.model.properties import predict

        smiles = [smiles] if isinstance(smiles, str) else list(smiles)
        z = self.encode(smiles, errors="skip")
        values = predict(self.model.property_head.cpu(), torch.nan_to_num(z))
        values[torch.isnan(z).any(dim=1).numpy()] = np.nan
        self.model.property_head.to(self.device)
        return pd.DataFrame(values, columns=self.config.data.property_list).assign(smiles=smiles)

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write this model (with its property predictor and aggregate posterior) as one checkpoint file."""
        from molvae.model.checkpoint import save_checkpoint
        from molvae.outputs import check_writable

        check_writable(Path(path), force)
        return save_checkpoint(path, self.model, self.vocab, self.config, self.checkpoint.train_state,
                               extra=self.checkpoint.extra, extra_tensors=self.checkpoint.extra_tensors)

    def optimize(self, objective: str | Callable[[str], float | None], **options: Any) -> pd.DataFrame:
        """Latent-space optimization; see ``molvae.optimization.optimize.optimize`` for the options."""
        from molvae.optimization.optimize import optimize

        return optimize(self, objective, **options)

    @staticmethod
    def score(smiles: Sequence[str | None], n_jobs: int = 0, progress: bool = False) -> pd.DataFrame:
        """RDKit validity, canonical form and properties (QED, logP, SA, MW, penalized logP) of each string."""
        return score_smiles(smiles, n_jobs=n_jobs, progress=progress)
