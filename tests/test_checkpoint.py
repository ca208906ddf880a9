from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch

from molvae.config import Config, ModelConfig
from molvae.errors import CheckpointError
from molvae.model.checkpoint import load_checkpoint, save_checkpoint
from molvae.model.vae import VAE
from molvae.smiles.tokenizer import Vocabulary

CONFIG = Config(model=ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24, decoder_layers=2))


def saved(tmp_path: Path) -> tuple[Path, VAE, Vocabulary]:
    torch.manual_seed(0)
    vocab = Vocabulary.build(["CCO", "c1ccccc1N", "CC(=O)Cl"])
    model = VAE(CONFIG.model, len(vocab)).eval()
    optimizer = torch.optim.Adam(model.parameters())
    model(*vocab.encode(["CCO"]))["logits"].sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "m", model, vocab, CONFIG, {"step": 7}, optimizer)
    return path, model, vocab


def rewrite_meta(path: Path, change) -> None:  # noqa: ANN001
    """Edit the molvae JSON inside a checkpoint's safetensors header (keeping the data checksum valid)."""
    blob = path.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    meta = json.loads(header["__metadata__"]["molvae"])
    change(meta)
    header["__metadata__"]["molvae"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + size :])


def test_save_load_gives_identical_outputs(tmp_path: Path) -> None:
    path, model, vocab = saved(tmp_path)
    assert path.name == "m.safetensors"
    checkpoint = load_checkpoint(tmp_path / "m")
    again = checkpoint.build_model()
    ids, lengths = vocab.encode(["CCO", "c1ccccc1N"])
    with torch.no_grad():
        assert torch.equal(model.encode(ids, lengths)[0], again.encode(ids, lengths)[0])
        z = torch.randn(2, 4)
        assert torch.equal(model.decode(z, ids), again.decode(z, ids))
    assert checkpoint.vocab == vocab and checkpoint.config == CONFIG and checkpoint.train_state == {"step": 7}
    assert set(checkpoint.versions) == {"molvae", "torch", "rdkit", "python"}
    assert checkpoint.optimizer_state is not None and checkpoint.rng_state is not None


def test_no_partial_or_temporary_file_is_left(tmp_path: Path) -> None:
    saved(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_pickle_is_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # noqa: ANN204
            return (open, (str(marker), "w"))

    for name in ("evil.safetensors", "evil.pt"):
        (tmp_path / name).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="not a molvae checkpoint"):
        load_checkpoint(tmp_path / "evil.safetensors")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_truncated_and_altered_files_are_refused(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path)
    blob = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[: len(blob) - 100])
    with pytest.raises(CheckpointError, match="damaged|truncated"):
        load_checkpoint(tmp_path / "cut.safetensors")
    flipped = bytearray(blob)
    flipped[-10] ^= 0xFF
    (tmp_path / "flip.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_checkpoint(tmp_path / "flip.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="too short"):
        load_checkpoint(tmp_path / "short.safetensors")


def test_vocabulary_that_does_not_match_the_weights_is_refused(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path)
    rewrite_meta(path, lambda meta: meta["vocab"]["tokens"].pop())
    with pytest.raises(CheckpointError, match="do not fit the stored config and vocabulary"):
        load_checkpoint(path).build_model()


def test_incompatible_format_version_is_refused(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path)
    rewrite_meta(path, lambda meta: meta.update(format_version=99))
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(path)


def test_missing_checkpoint_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing")


def test_a_checkpoint_from_before_the_kekule_setting_reads_aromatic_smiles(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path)
    rewrite_meta(path, lambda meta: meta["config"]["data"].update(kekule=True))
    assert load_checkpoint(path).config.data.kekule is True
    rewrite_meta(path, lambda meta: meta["config"]["data"].pop("kekule"))
    assert load_checkpoint(path).config.data.kekule is False


def test_settings_missing_from_an_old_checkpoint_keep_their_old_meaning_not_todays_defaults(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path)

    def drop(meta: dict) -> None:
        for key in ("lr_schedule", "max_steps", "free_bits"):
            meta["config"]["train"].pop(key)
        meta["config"]["data"].pop("kekule")

    rewrite_meta(path, drop)
    config = load_checkpoint(path).config
    assert (config.data.kekule, config.train.lr_schedule, config.train.max_steps, config.train.free_bits) == (
        False, "constant", 0, 0.0)
    assert Config().data.kekule is True and Config().train.max_steps > 0  # today's defaults differ
