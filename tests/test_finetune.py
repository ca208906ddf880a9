"""Fine-tuning (molvae.training.finetune, molvae.model.extension): vocabulary growth keeps the old model's outputs,
the architecture and property head are taken from the initial model, early stopping, a frozen encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from molvae.cli import main
from molvae.config import ModelConfig
from molvae.model.checkpoint import load_checkpoint
from molvae.model.extension import extend_state
from molvae.model.sampling import decode_z
from molvae.model.vae import VAE
from molvae.smiles.tokenizer import Vocabulary, tokenize

DATA = Path(__file__).parent / "data"
OLD_TOKENS = ["<pad>", "<bos>", "<eos>", "(", ")", "1", "2", "=", "C", "N", "O", "Cl"]
NEW_TOKENS = ["[C@H]", "[C@@H]", "[NH+]"]


def _old_and_extended(embedding: str) -> tuple[VAE, VAE, Vocabulary, Vocabulary]:
    torch.manual_seed(0)
    config = ModelConfig(embedding=embedding, encoder_hidden=32, latent_dim=8, decoder_hidden=32, decoder_layers=2)
    old_vocab, new_vocab = Vocabulary(OLD_TOKENS, 40), Vocabulary(OLD_TOKENS + NEW_TOKENS, 40)
    old = VAE(config, len(old_vocab)).eval()
    new = VAE(config, len(new_vocab)).eval()
    new.load_state_dict(extend_state(old.state_dict(), config, len(old_vocab), len(new_vocab)))
    return old, new, old_vocab, new_vocab


@pytest.mark.parametrize("embedding", ["onehot", "identity", "learned"])
def test_a_grown_vocabulary_keeps_the_old_models_outputs_bit_identical(embedding: str) -> None:
    old, new, old_vocab, new_vocab = _old_and_extended(embedding)
    ids, lengths = old_vocab.encode(["CC(=O)NC1CCCCC1", "OCCCl", "C1=CC=CC=C1"])
    with torch.no_grad():
        mu_old, logvar_old = old.encode(ids, lengths)
        mu_new, logvar_new = new.encode(ids, lengths)
        assert torch.equal(mu_old, mu_new) and torch.equal(logvar_old, logvar_new)
        logits_old = old.decode(mu_old, ids[:, :-1])
        logits_new = new.decode(mu_old, ids[:, :-1])
    assert torch.equal(logits_new[..., : len(old_vocab)], logits_old)
    assert (logits_new[..., len(old_vocab):] < logits_old.min(dim=-1, keepdim=True).values).all()
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    for greedy in (True, False):
        a = decode_z(old, old_vocab, z, greedy=greedy, generator=torch.Generator().manual_seed(2))
        b = decode_z(new, new_vocab, z, greedy=greedy, generator=torch.Generator().manual_seed(2))
        assert a == b


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def test_fine_tuning_adds_the_new_tokens_and_records_where_it_started(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    model = overfit_model[0]
    code, err = invoke("train", DATA / "tnks2_small.csv", "--init-from", model, "--out", tmp_path / "ft",
                       "--max-steps", "4", "--val-every", "2", "--n-val-samples", "4", "--n-val-reconstruct", "4",
                       "--quiet", "--threads", "1")
    assert code == 0, err
    assert "fine-tuned from" in err and "[C@H]" in err
    tuned, start = load_checkpoint(tmp_path / "ft" / "last.safetensors"), load_checkpoint(model)
    assert tuned.vocab.tokens[: len(start.vocab)] == start.vocab.tokens  # old ids unchanged, new ones appended
    assert {"[C@H]", "[C@@H]"} <= set(tuned.vocab.tokens[len(start.vocab):])
    assert tuned.config.model == start.config.model and tuned.config.data.kekule == start.config.data.kekule
    record = tuned.train_state["init_from"]
    from molvae.smiles.files import file_sha256

    assert record["sha256"] == file_sha256(model) and record["property_head"] == "none"
    code, _ = invoke("info", tmp_path / "ft")  # the card names where it started
    result = CliRunner().invoke(main, ["info", str(tmp_path / "ft"), "--json"])
    card = json.loads(result.stdout)
    assert result.exit_code == 0 and card["fine_tuned_from"]["sha256"] == record["sha256"]
    assert "stereocentres (@)" in card["vocabulary"]["can_express"]
    # a fine-tuning run resumes like any run
    code, err = invoke("train", DATA / "tnks2_small.csv", "--resume", tmp_path / "ft", "--max-steps", "6", "--quiet")
    assert code == 0, err
    assert load_checkpoint(tmp_path / "ft" / "last.safetensors").train_state["step"] == 6


def test_model_options_are_refused_with_init_from(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    code, err = invoke("train", DATA / "tnks2_small.csv", "--init-from", overfit_model[0], "--latent-dim", "16",
                       "--out", tmp_path / "x")
    assert code != 0 and "latent_dim" in err


def test_the_property_head_is_kept_when_the_data_has_its_columns_and_dropped_otherwise(tmp_path: Path) -> None:
    common = ["--max-steps", "1", "--val-every", "1", "--n-val-samples", "2", "--n-val-reconstruct", "2",
              "--n-aggregate", "8", "--quiet", "--threads", "1"]
    code, err = invoke("train", DATA / "small.csv", "--init-from", "bundled", "--out", tmp_path / "kept", *common)
    assert code == 0 and "property predictor: kept (logP, qed, SAS)" in err
    assert load_checkpoint(tmp_path / "kept" / "last.safetensors").model_state["property_head.mean"].shape == (3,)
    code, err = invoke("train", DATA / "tnks2_small.csv", "--init-from", "bundled", "--out", tmp_path / "dropped",
                       *common)
    assert code == 0 and "property predictor: dropped" in err
    assert not any(k.startswith("property_head") for k in
                   load_checkpoint(tmp_path / "dropped" / "last.safetensors").model_state)


def test_early_stopping_ends_a_run_whose_validation_loss_stops_improving(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    code, err = invoke("train", DATA / "tnks2_small.csv", "--init-from", overfit_model[0], "--out", tmp_path / "es",
                       "--lr", "1e-12", "--lr-schedule", "constant", "--patience", "1", "--val-every", "1",
                       "--max-steps", "40",
                       "--n-val-samples", "2", "--n-val-reconstruct", "2", "--quiet", "--threads", "1")
    assert code == 0, err
    assert "stopped by early_stopping" in err
    metrics = pd.read_csv(tmp_path / "es" / "metrics.csv")
    assert metrics.step.max() < 40


def test_a_frozen_encoder_keeps_its_weights(overfit_model, tmp_path: Path) -> None:  # noqa: ANN001
    code, err = invoke("train", DATA / "tnks2_small.csv", "--init-from", overfit_model[0], "--out", tmp_path / "fz",
                       "--freeze-encoder", "--max-steps", "3", "--val-every", "3", "--n-val-samples", "2",
                       "--n-val-reconstruct", "2", "--quiet", "--threads", "1")
    assert code == 0, err
    before, after = load_checkpoint(overfit_model[0]), load_checkpoint(tmp_path / "fz" / "last.safetensors")
    assert torch.equal(before.model_state["to_gaussian.weight"], after.model_state["to_gaussian.weight"])
    assert torch.equal(before.model_state["encoder.0.weight_hh_l0"], after.model_state["encoder.0.weight_hh_l0"])
    assert not torch.equal(before.model_state["head.weight"], after.model_state["head.weight"][: len(before.vocab)])


def test_the_fine_tuned_model_writes_stereo_smiles_it_learned() -> None:
    assert tokenize("C[C@H](N)O") == ["C", "[C@H]", "(", "N", ")", "O"]  # the tokens fine-tuning adds are single tokens


def test_info_prints_the_bundled_models_card() -> None:
    result = CliRunner().invoke(main, ["info", "--json"])
    card = json.loads(result.stdout)
    assert result.exit_code == 0 and card["recommended_temperature"] > 0 and len(card["sha256"]) == 64
    assert "stereocentres (@)" in card["vocabulary"]["cannot_express"] and card["data"]["n_molecules"] > 0
    text = CliRunner().invoke(main, ["info"]).stdout
    assert "cannot read" in text and "temperature" in text
