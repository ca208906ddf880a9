from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae.config import ModelConfig
from molvae.model.sampling import aggregate_posterior, around, beam_search_ids, decode_ids, decode_z, path, prior_batches
from molvae.model.vae import VAE
from molvae.smiles.corpus import load_corpus
from molvae.smiles.tokenizer import EOS_ID, PAD_ID
from molvae.training.batching import collate

CONFIG = ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24, decoder_layers=2)


def model(vocab_size: int = 9) -> VAE:
    torch.manual_seed(0)
    return VAE(CONFIG, vocab_size).eval()


def test_sampling_is_deterministic_per_seed() -> None:
    m, z = model(), torch.randn(50, 4)
    a = decode_ids(m, z, 30, generator=torch.Generator().manual_seed(1))
    b = decode_ids(m, z, 30, generator=torch.Generator().manual_seed(1))
    c = decode_ids(m, z, 30, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_every_row_ends_with_eos_then_pad_within_max_length() -> None:
    ids = decode_ids(model(), torch.randn(200, 4) * 3, 12, generator=torch.Generator().manual_seed(0))
    assert ids.shape == (200, 13)
    for row in ids.tolist():
        end = row.index(EOS_ID)
        assert all(t == PAD_ID for t in row[end + 1 :]) and PAD_ID not in row[:end]


def test_low_temperature_matches_greedy() -> None:
    m, z = model(), torch.randn(40, 4)
    greedy = decode_ids(m, z, 25, greedy=True)
    assert torch.equal(decode_ids(m, z, 25, temperature=0.0), greedy)
    cold = decode_ids(m, z, 25, temperature=1e-6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(cold, greedy)


def test_beam_width_one_is_greedy_and_wider_beams_score_at_least_as_well() -> None:
    m, z = model(), torch.randn(20, 4)
    greedy = decode_ids(m, z, 15, greedy=True)
    assert torch.equal(beam_search_ids(m, z, 15, width=1), greedy)

    def log_prob(ids: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([torch.ones(len(ids), 1, dtype=torch.long), ids[:, :-1]], dim=1)
        logp = torch.log_softmax(m.decode(z, inputs), -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
        mask = torch.cumsum((ids == EOS_ID).long(), 1) - (ids == EOS_ID).long() == 0  # up to and including eos
        return (logp * mask).sum(1)

    with torch.no_grad():
        assert torch.all(log_prob(beam_search_ids(m, z, 15, width=4)) >= log_prob(greedy) - 1e-4)


def test_decode_of_random_z_never_raises() -> None:
    corpus = load_corpus("tests/data/small.csv")
    m = model(len(corpus.vocab))
    for scale in (0.0, 1.0, 100.0):
        out = decode_z(m, corpus.vocab, torch.randn(30, 4) * scale, generator=torch.Generator().manual_seed(0))
        assert len(out) == 30 and all(isinstance(s, str) for s in out)


def test_large_requests_are_decoded_in_bounded_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    import molvae.model.sampling as sampling

    real = sampling.decode_ids

    def spy(model, z, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(len(z))
        return real(model, z, *args, **kwargs)

    monkeypatch.setattr(sampling, "decode_ids", spy)
    corpus = load_corpus("tests/data/small.csv")
    m = model(len(corpus.vocab))
    batches = list(prior_batches(2500, 4, 1000))
    assert [len(b) for b in batches] == [1000, 1000, 500]  # z is drawn per batch too, never n rows at once
    decode_z(m, corpus.vocab, torch.randn(2500, 4), batch_size=1000)
    assert seen == [1000, 1000, 500]


def test_aggregate_posterior_moments_and_sampling_from_it() -> None:
    corpus = load_corpus("tests/data/small.csv")
    m = model(len(corpus.vocab))
    batches = [collate(corpus.ids, corpus.lengths, np.arange(i, min(i + 64, 300))) for i in range(0, 300, 64)]
    mean, cov = aggregate_posterior(m, iter(batches))
    assert mean.shape == (4,) and cov.shape == (4, 4) and torch.allclose(cov, cov.T)
    draws = torch.cat(list(prior_batches(20000, 4, 5000, torch.Generator().manual_seed(0), mean, cov)))
    assert torch.allclose(draws.mean(0), mean, atol=0.05) and torch.allclose(torch.cov(draws.T), cov, atol=0.05)


def test_paths_and_neighbourhoods() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    line = path(a, b, 5, "linear")
    assert torch.allclose(line[0], a) and torch.allclose(line[-1], b) and torch.allclose(line[2], (a + b) / 2)
    arc = path(a, b, 5, "slerp")
    assert torch.allclose(arc[0], a, atol=1e-6) and torch.allclose(arc[-1], b, atol=1e-6)
    assert torch.allclose(path(a, 3 * a, 3, "slerp"), path(a, 3 * a, 3, "linear"))  # parallel: the line
    cloud = around(torch.zeros(3), 5000, 0.5, torch.Generator().manual_seed(0))
    assert cloud.shape == (5000, 3) and abs(float(cloud.std()) - 0.5) < 0.02
