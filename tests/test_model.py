from __future__ import annotations

import math

import pytest
import torch

from molvae.config import ModelConfig
from molvae.model.vae import VAE, kl_per_dim, reparameterize, vae_loss

TINY = ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24, decoder_layers=2)


def batch(vocab_size: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids (3, 7): bos, tokens, eos, pad."""
    ids = torch.tensor([[1, 3, 4, 5, 6, 7, 2], [1, 8, 9, 2, 0, 0, 0], [1, 10, 11, 3, 2, 0, 0]])
    return ids, torch.tensor([7, 4, 5])


def test_closed_form_kl_matches_monte_carlo() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4) * 0.5
    z = reparameterize(mu.expand(200_000, 3, 4), logvar.expand(200_000, 3, 4))  # (S, B, Z)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(()), torch.ones(()))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean(dim=0).mean(dim=0)  # (Z,)
    assert torch.allclose(kl_per_dim(mu, logvar), monte_carlo, atol=0.02)


def test_reparameterized_sample_has_the_posterior_moments() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    z = reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    assert torch.allclose(z.mean(0), mu[0], atol=0.03) and torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.03)


def test_gradients_reach_the_encoder_through_the_sample() -> None:
    torch.manual_seed(0)
    model = VAE(TINY, 12)
    ids, lengths = batch()
    out = model(ids, lengths)
    terms = vae_loss(out["logits"], out["targets"], out["mu"], out["logvar"], beta=0.0)  # reconstruction only
    terms["loss"].backward()
    assert model.encoder[0].weight_ih_l0.grad.abs().sum() > 0
    assert model.to_gaussian.weight.grad[TINY.latent_dim :].abs().sum() > 0  # log-variance rows: only via eps


@pytest.mark.parametrize("config", [
    TINY,
    ModelConfig(encoder_hidden=16, latent_dim=6, decoder_hidden=20, decoder_layers=3, embedding="learned",
                embedding_dim=5),
    ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24, decoder_layers=1, embedding="identity"),
])
def test_teacher_forced_logits_equal_step_by_step_decoding_with_z_gates_folded(config: ModelConfig) -> None:
    """The decoding step computes z's share of the first layer's gates once per molecule (latent_gates) and the
    token's share by table lookup: the same logits and states as nn.GRU on [embedding; z] at every step."""
    torch.manual_seed(0)
    model = VAE(config, 12).eval()
    for p in model.parameters():  # trained-looking weights, not the init's small ones
        torch.nn.init.normal_(p, std=0.3)
    ids, _ = batch()
    z = torch.randn(3, config.latent_dim)
    forced = model.decode(z, ids)  # (B, T, V)
    x = torch.cat([model.embedding(ids), z.unsqueeze(1).expand(-1, ids.shape[1], -1)], dim=-1)
    _, h_ref = model.decoder(x[:, :1], model.initial_hidden(z))
    h, gates = model.initial_hidden(z), model.latent_gates(z)
    for t in range(ids.shape[1]):
        logits, h = model.step(ids[:, t], gates, h)
        assert torch.allclose(logits, forced[:, t], atol=1e-5)
        if t == 0:
            assert torch.allclose(h, h_ref, atol=1e-6)


def test_reconstruction_ignores_pad_and_is_summed_per_molecule() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6)
    targets = torch.tensor([[3, 4, 2, 0], [3, 2, 0, 0]])
    mu = logvar = torch.zeros(2, 3)
    base = vae_loss(logits, targets, mu, logvar, beta=1.0)
    changed = logits.clone()
    changed[0, 3] += 5.0
    changed[1, 2:] -= 7.0
    assert torch.equal(vae_loss(changed, targets, mu, logvar, beta=1.0)["loss"], base["loss"])
    log_probs = torch.log_softmax(logits, -1)
    per_token = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * (targets != 0)
    assert torch.allclose(base["reconstruction"], per_token.sum() / 2)


def test_free_bits_floor_each_dimension_but_report_the_true_kl() -> None:
    mu = torch.tensor([[0.1, 2.0], [0.1, 2.0]])
    logvar = torch.zeros(2, 2)
    logits, targets = torch.zeros(2, 1, 3), torch.tensor([[2], [2]])
    terms = vae_loss(logits, targets, mu, logvar, beta=1.0, free_bits=0.5)
    kl = kl_per_dim(mu, logvar)
    assert torch.allclose(terms["kl"], kl.sum())
    assert torch.allclose(terms["loss"] - terms["reconstruction"], torch.tensor(0.5) + kl[1])


@pytest.mark.parametrize("embedding, trainable, dim", [("onehot", False, 12), ("identity", True, 12), ("learned", True, 5)])
def test_embeddings(embedding: str, trainable: bool, dim: int) -> None:
    model = VAE(ModelConfig(embedding=embedding, embedding_dim=5, encoder_hidden=8, latent_dim=2, decoder_hidden=8,
                            decoder_layers=1), 12)
    assert model.embedding.weight.requires_grad is trainable and model.embedding.embedding_dim == dim
    if embedding != "learned":
        assert torch.equal(model.embedding.weight, torch.eye(12))


def test_encoder_ignores_padding() -> None:
    torch.manual_seed(0)
    model = VAE(TINY, 12).eval()
    ids, lengths = batch()
    longer = torch.cat([ids, torch.zeros(3, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model.encode(ids, lengths)[0], model.encode(longer, lengths)[0], atol=1e-6)


def test_bidirectional_encoder_matches_a_packed_reference() -> None:
    """The padded two-direction encoder gives the final states of a packed bidirectional GRU."""
    torch.manual_seed(0)
    model = VAE(TINY, 12).eval()
    reference = torch.nn.GRU(12, 16, batch_first=True, bidirectional=True)
    forward, backward = model.encoder
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(reference, name).copy_(getattr(forward, name))
            getattr(reference, name + "_reverse").copy_(getattr(backward, name))
        ids, lengths = batch()
        packed = torch.nn.utils.rnn.pack_padded_sequence(model.embedding(ids), lengths, batch_first=True,
                                                         enforce_sorted=False)
        _, h = reference(packed)  # (2, B, H)
        expected = model.to_gaussian(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)[0]
        assert torch.allclose(model.encode(ids, lengths)[0], expected, atol=1e-5)
