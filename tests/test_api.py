from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from molvae import MolVAE
from molvae.errors import CheckpointError, ConfigError, DataError, MolVAEError, VocabularyError
from molvae.smiles.tokenizer import tokenize


@pytest.fixture(scope="module")
def vae(overfit_model: tuple[Path, list[str]]) -> MolVAE:
    return MolVAE.load(overfit_model[0])


def test_greedy_decode_of_encoded_training_molecules_gives_them_back(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    smiles = overfit_model[1]
    decoded = vae.decode(vae.encode(smiles))
    assert np.mean([a == b for a, b in zip(decoded, smiles)]) >= 0.95


def test_bf16_decoding_gives_back_the_training_molecules_as_fp32_does(overfit_model) -> None:  # noqa: ANN001
    path, smiles = overfit_model
    fp32, bf16 = MolVAE.load(path), MolVAE.load(path, precision="bf16")
    assert bf16.precision == "bf16" and fp32.precision == "fp32"
    z = fp32.encode(smiles)
    decoded = bf16.decode(z)
    assert np.mean([a == b for a, b in zip(decoded, smiles)]) >= 0.9
    assert np.mean([a == b for a, b in zip(decoded, fp32.decode(z))]) >= 0.9
    drawn = bf16.sample(20, seed=3)
    assert drawn == bf16.sample(20, seed=3) and len(drawn) == 20


def test_encode_shapes_sampling_and_canonicalization(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    smiles = overfit_model[1][:3]
    z = vae.encode(smiles)
    assert z.shape == (3, vae.latent_dim)
    assert torch.allclose(vae.encode(smiles[0]), z[:1], atol=1e-5)  # batch-size-dependent GEMM kernels round differently
    drawn = vae.encode(smiles, sample=True, seed=1)
    assert torch.equal(drawn, vae.encode(smiles, sample=True, seed=1)) and not torch.equal(drawn, z)


def test_unknown_tokens_raise_naming_the_molecule_or_skip_as_nan(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    with pytest.raises(VocabularyError, match=r"'C\[Se\]C'.*\['\[Se\]'\]"):
        vae.encode(["CCO", "C[Se]C"])
    z = vae.encode(["CCO", "C[Se]C", "not a smiles", "C" * 100], errors="skip")
    assert not torch.isnan(z[0]).any() and torch.isnan(z[1:]).all()


def test_decode_accepts_arrays_and_names_what_is_wrong(vae: MolVAE) -> None:
    z = np.random.default_rng(0).normal(size=(5, vae.latent_dim))
    out = vae.decode(z)
    assert len(out) == 5 and all(s is None or isinstance(s, str) for s in out)
    assert len(vae.decode(z[0])) == 1
    with pytest.raises(ConfigError, match=rf"shape \(5, 3\); this model expects \(B, {vae.latent_dim}\)"):
        vae.decode(np.zeros((5, 3)))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        vae.decode(np.full((2, vae.latent_dim), np.nan))
    with pytest.raises(ConfigError, match="float tensor or array"):
        vae.decode([["a"] * vae.latent_dim])
    with pytest.raises(ConfigError, match="temperature"):
        vae.decode(z, temperature=-1.0)


def test_decode_with_attempts_votes_for_the_most_frequent_valid_molecule(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    smiles = overfit_model[1][:8]
    voted = vae.decode(vae.encode(smiles), temperature=0.5, n_attempts=7, seed=0)
    assert np.mean([a == b for a, b in zip(voted, smiles)]) >= 0.75
    beam = vae.decode(vae.encode(smiles), beam_width=3)
    assert np.mean([a == b for a, b in zip(beam, smiles)]) >= 0.75


def test_sample_is_seeded_and_filters(vae: MolVAE) -> None:
    a = vae.sample(40, seed=3)
    assert a == vae.sample(40, seed=3) and a != vae.sample(40, seed=4) and len(a) == 40
    valid = vae.sample(40, seed=3, valid_only=True)
    assert len(valid) <= 40 and len(set(vae.sample(40, seed=3, unique=True))) == len(vae.sample(40, seed=3, unique=True))
    assert len(vae.sample(10, seed=0, source="aggregate")) == 10
    with pytest.raises(ConfigError, match="source = 'posterior'"):
        vae.sample(3, source="posterior")
    with pytest.raises(ConfigError, match="n = 0"):
        vae.sample(0)


def test_sampling_with_the_syntax_mask_writes_only_parsable_smiles(vae: MolVAE) -> None:
    from rdkit import Chem

    masked = vae.sample(300, temperature=1.0, seed=5)
    raw = vae.sample(300, temperature=1.0, seed=5, syntax_mask=False)
    short = [len(tokenize(s)) < vae.vocab.max_length for s in masked]  # a string cut at max_length may be open
    assert sum(short) >= 50
    assert all(Chem.MolFromSmiles(s, sanitize=False) is not None for s, ok in zip(masked, short) if ok)
    assert sum(Chem.MolFromSmiles(s, sanitize=False) is None for s in raw) > 0  # hot sampling without it: errors


def test_interpolate_and_neighbors_give_valid_distinct_molecules(vae: MolVAE, overfit_model) -> None:  # noqa: ANN001
    a, b = overfit_model[1][0], overfit_model[1][1]
    path = vae.interpolate(a, b, n_steps=8)
    assert path[0] == a and path[-1] == b and all(x != y for x, y in zip(path, path[1:]))
    near = vae.neighbors(a, n=5, radius=1.0, seed=0)
    assert a not in near and len(near) == len(set(near)) and len(near) <= 5
    assert vae.score(near).valid.all()


def test_score_keeps_invalid_rows() -> None:
    frame = MolVAE.score(["CCO", "C1CC", "", None])
    assert frame.valid.tolist() == [True, False, False, False]
    assert frame.canonical_smiles[0] == "CCO" and frame.qed.isna().tolist() == [False, True, True, True]


def test_a_stored_training_set_tells_novelty_without_the_data_file(overfit_model, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from molvae.generation import sampler

    vae = MolVAE.load(overfit_model[0])
    assert vae.store_training_set() == len(set(overfit_model[1]))
    saved = MolVAE.load(vae.save(tmp_path / "with_set.safetensors"))
    monkeypatch.setattr(sampler, "load_corpus", lambda *a, **k: pytest.fail("read the training file"))
    frame, summary = saved.sample_frame(30, seed=0, temperature=0.0)
    training = set(overfit_model[1])
    assert frame.novel.tolist() == [bool(v) and c not in training for v, c in zip(frame.valid, frame.canonical_smiles)]
    distinct = set(frame.canonical_smiles[frame.valid])
    assert summary["novel"] == pytest.approx(len(distinct - training) / max(1, len(distinct)))
    moved = MolVAE.load(overfit_model[0])
    moved.checkpoint.train_state = {**moved.checkpoint.train_state, "data": {"path": str(tmp_path / "gone.csv")}}
    with pytest.raises(DataError, match="gone.csv.*missing or changed"):
        moved.store_training_set()


def test_missing_default_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from molvae import api

    monkeypatch.setattr(api, "BUNDLED_MODEL", tmp_path / "default.safetensors")  # as if installed without one
    with pytest.raises(CheckpointError, match="no bundled model .default. is installed"):
        MolVAE.load()
    assert issubclass(CheckpointError, MolVAEError)


def test_bundled_model_is_checked_against_its_recorded_sha256(overfit_model, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    from molvae import api
    from molvae.smiles.files import file_sha256

    bundled = tmp_path / "default.safetensors"
    shutil.copy(overfit_model[0], bundled)
    monkeypatch.setattr(api, "BUNDLED_MODEL", bundled)
    bundled.with_suffix(".sha256").write_text(file_sha256(bundled) + "  default.safetensors\n")
    assert MolVAE.load().latent_dim == 32  # no path: the bundled model
    bundled.with_suffix(".sha256").write_text("0" * 64 + "\n")
    with pytest.raises(CheckpointError, match="is damaged"):
        MolVAE.load()


def test_bundled_models_load_by_name_and_an_existing_path_of_that_name_wins(overfit_model, tmp_path,
                                                                            monkeypatch) -> None:  # noqa: ANN001
    import shutil

    from molvae import api
    from molvae.smiles.files import file_sha256

    monkeypatch.setattr(api, "BUNDLED_MODEL", tmp_path / "default.safetensors")
    with pytest.raises(CheckpointError, match="no bundled model 'zinc250k' is installed"):
        MolVAE.load("zinc250k")
    named = tmp_path / "zinc250k.safetensors"
    shutil.copy(overfit_model[0], named)
    named.with_suffix(".sha256").write_text(file_sha256(named) + "  zinc250k.safetensors\n")
    assert api.model_path("zinc250k") == named and MolVAE.load("zinc250k").latent_dim == 32
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zinc250k").mkdir()  # a run folder of that name in the working directory is read as a run folder
    with pytest.raises(CheckpointError, match="no checkpoint at zinc250k"):
        MolVAE.load("zinc250k")


def test_recommended_sample_temperature_travels_in_the_checkpoint(vae: MolVAE, tmp_path: Path) -> None:
    assert vae.sample_temperature == 1.0  # none recorded
    copy = MolVAE.load(vae.source)
    copy.sample_temperature = 0.7
    reloaded = MolVAE.load(copy.save(tmp_path / "t.safetensors"))
    assert reloaded.sample_temperature == 0.7
    assert reloaded.sample(50, seed=3) == reloaded.sample(50, temperature=0.7, seed=3)
    assert reloaded.sample(50, seed=3) != reloaded.sample(50, temperature=1.0, seed=3)
    with pytest.raises(ConfigError, match="sample_temperature"):
        copy.sample_temperature = -1.0


def test_the_bundled_default_model_is_a_trained_model_that_samples_right_after_install() -> None:
    from molvae import api
    from molvae.chemistry import chem
    from molvae.smiles.files import file_sha256

    assert api.BUNDLED_MODEL.stat().st_size <= 25 * 2**20  # the wheel's limit
    recorded = api.BUNDLED_MODEL.with_suffix(".sha256").read_text().split()[0]
    assert file_sha256(api.BUNDLED_MODEL) == recorded
    vae = MolVAE.load()
    assert vae.source == api.BUNDLED_MODEL and 0 < vae.sample_temperature <= 1
    assert vae.config.data.property_list == ["logP", "qed", "SAS"] and vae.model.property_head is not None
    smiles = vae.sample(200, seed=0)
    assert sum(chem.is_valid(s) for s in smiles) >= 150  # a trained model (a random decoder gives ~0)
    frame, summary = vae.sample_frame(50, seed=1)
    assert "novel" in frame.columns and summary["novel"] > 0.5  # its training set travels with it
    assert vae.decode(vae.encode(["CC(=O)Nc1ccc(O)cc1"]))[0] is not None


def test_a_kekule_model_reads_any_spelling_of_a_molecule_in_kekule_form(tmp_path: Path, small_csv: Path) -> None:
    from molvae.config import Config, DataConfig, ModelConfig
    from molvae.model.checkpoint import save_checkpoint
    from molvae.model.vae import VAE
    from molvae.smiles.corpus import load_corpus

    corpus = load_corpus(small_csv, kekule=True)
    config = Config(data=DataConfig(kekule=True), model=ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24))
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "k", VAE(config.model, len(corpus.vocab)), corpus.vocab, config, {})
    vae = MolVAE.load(path)
    assert vae.written("c1ccc(O)cc1") == "OC1=CC=CC=C1"
    z = vae.encode(["Oc1ccccc1", "OC1=CC=CC=C1", "c1ccc(O)cc1"])  # aromatic 'c' is not in this vocabulary
    assert torch.allclose(z[0], z[1]) and torch.allclose(z[0], z[2])


def test_zinc250k_model_reads_the_benchmark_sets_as_written() -> None:
    from molvae.optimization.suite import read_benchmark

    vae = MolVAE.load("zinc250k")
    root = Path(__file__).resolve().parent.parent / "data" / "benchmarks"
    starts = read_benchmark(root / "zinc250k_plogp_test800.txt") + read_benchmark(root / "zinc250k_qed_test800.txt")
    readable = [r.ok for r in vae.standardize(starts, "none")]  # charges and stereo as ZINC writes them, no change
    assert sum(readable) >= 1598  # all but one ([OH+], never in its training data)
    assert sum(r.ok for r in MolVAE.load().standardize(starts[:800], "none")) < 100  # the default model could not
    assert vae.sample_temperature == 0.7 and vae.config.data.property_list == ["logP", "qed", "SAS"]
