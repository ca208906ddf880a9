"""The SMILES VAE: GRU encoder -> diagonal Gaussian -> reparameterized z -> autoregressive GRU decoder.

Shapes: B batch, T length, V vocabulary, E embedding, Z latent, H hidden, L decoder layers. The model sees only
token ids and two ints (vocabulary size, pad id): no tokenizer, no RDKit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from molvae.config import ModelConfig


def _gru_update(gi: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """One GRU cell update from the input gates gi (B, 3H) and state h (B, H) -> new state (B, H), PyTorch's gate
    order and formula. The gate arithmetic and the state stay fp32 under bf16 autocast, where only the matrix products
    run in bf16 (a bf16 state drifts over a hundred steps)."""
    gh = F.linear(h, weight_hh, bias_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.float().chunk(3, dim=1)
    h_r, h_z, h_n = gh.float().chunk(3, dim=1)
    reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    new = torch.tanh(torch.addcmul(i_n, reset, h_n))
    h = h.float()
    return new + update * (h - new)  # (1 - u) * n + u * h


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I); (B, Z) -> (B, Z), differentiable in mu and logvar."""
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu, sigma^2) || N(0, I)) per latent dimension, averaged over the batch: (B, Z) -> (Z,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)


def vae_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float,
    free_bits: float = 0.0,
    pad_id: int = 0,
) -> dict[str, torch.Tensor]:
    """Negative ELBO with a KL weight, in nats per molecule.

    - ``reconstruction``: categorical cross-entropy of logits (B, T, V) against targets (B, T), summed over each
      molecule's real tokens (pad ignored) and averaged over the batch.
    - ``kl``: closed-form KL to N(0, I), summed over Z and averaged over the batch (the true KL, always reported).
    - ``loss`` = reconstruction + beta * KL', where KL' is the KL with each dimension's batch-mean KL raised to at
      least ``free_bits`` nats (KL' = KL when free_bits = 0). So beta = 1 is the ELBO.
    """
    batch = targets.shape[0]
    reconstruction = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=pad_id, reduction="sum"
    ) / batch
    per_dim = kl_per_dim(mu.float(), logvar.float())  # (Z,)
    kl = per_dim.sum()
    kl_term = per_dim.clamp(min=free_bits).sum() if free_bits > 0 else kl
    mask = targets != pad_id
    correct = (logits.argmax(dim=-1) == targets) & mask
    return {
        "loss": reconstruction + beta * kl_term,
        "reconstruction": reconstruction.detach(),
        "kl": kl.detach(),
        "token_accuracy": (correct.sum() / mask.sum().clamp(min=1)).detach(),
    }


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, F) reordered along time by index (B, T)."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class PropertyHead(nn.Module):
    """MLP from z (B, Z) to P standardized properties (B, P); ``mean``/``std`` (P,) undo the standardization."""

    def __init__(self, latent_dim: int, n_properties: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, n_properties)
        )
        self.register_buffer("mean", torch.zeros(n_properties))
        self.register_buffer("std", torch.ones(n_properties))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Standardized predictions (B, P)."""
        return self.net(z.float())

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Predictions in the data's units (B, P)."""
        return self.forward(z) * self.std + self.mean


def property_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the known (non-NaN) entries of standardized targets (B, P); 0 when none is known."""
    known = ~torch.isnan(target)
    if not bool(known.any()):
        return predicted.sum() * 0.0
    return (predicted[known] - target[known]).pow(2).mean()


class VAE(nn.Module):
    """Encoder, latent Gaussian and decoder of the SMILES VAE, and (``n_properties`` > 0) a property head on mu."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = 0, n_properties: int = 0) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.n_properties = n_properties
        if config.embedding == "learned":
            self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        else:  # one-hot: the identity matrix as an embedding is the same thing computed faster
            self.embedding = nn.Embedding(vocab_size, vocab_size)
            with torch.no_grad():
                self.embedding.weight.copy_(torch.eye(vocab_size))
            self.embedding.weight.requires_grad_(config.embedding == "identity")
        emb_dim = self.embedding.embedding_dim
        directions = 2 if config.encoder_bidirectional else 1
        # One unidirectional GRU per layer and direction, run over padded batches: the backward direction reads each
        # molecule reversed within its own length, so padding never enters a real position (packed sequences give
        # the same numbers but were ~6x slower in backward on CPU).
        self.encoder = nn.ModuleList(
            nn.GRU(emb_dim if layer == 0 else config.encoder_hidden * directions, config.encoder_hidden,
                   batch_first=True)
            for layer in range(config.encoder_layers)
            for _ in range(directions)
        )
        self.encoder_dropout = nn.Dropout(config.encoder_dropout)
        self.to_gaussian = nn.Linear(config.encoder_hidden * directions * config.encoder_layers, 2 * config.latent_dim)
        self.latent_to_hidden = nn.Linear(config.latent_dim, config.decoder_hidden * config.decoder_layers)
        self.decoder = nn.GRU(
            emb_dim + config.latent_dim,
            config.decoder_hidden,
            num_layers=config.decoder_layers,
            batch_first=True,
            dropout=config.decoder_dropout if config.decoder_layers > 1 else 0.0,
        )
        self.head = nn.Linear(config.decoder_hidden, vocab_size)
        self.property_head = (
            PropertyHead(config.latent_dim, n_properties, config.predictor_hidden) if n_properties > 0 else None
        )

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian parameters of q(z | x): ids (B, T), lengths (B,) -> mu (B, Z), logvar (B, Z)."""
        x = self.embedding(ids)  # (B, T, E)
        batch, length = ids.shape
        last = (lengths - 1).clamp(min=0).to(ids.device)  # (B,) position of each molecule's last real token
        steps = torch.arange(length, device=ids.device).unsqueeze(0)  # (1, T)
        reverse = torch.where(steps <= last.unsqueeze(1), last.unsqueeze(1) - steps, steps)  # (B, T), an involution
        rows = torch.arange(batch, device=ids.device)
        directions = 2 if self.config.encoder_bidirectional else 1
        finals = []
        for layer in range(self.config.encoder_layers):
            if layer > 0:
                x = self.encoder_dropout(x)
            outputs = []
            for direction in range(directions):
                gru = self.encoder[layer * directions + direction]
                if direction == 0:
                    out, _ = gru(x)  # (B, T, H)
                else:
                    out, _ = gru(_gather_time(x, reverse))
                    out = _gather_time(out, reverse)  # back to reading order
                finals.append(out[rows, last] if direction == 0 else out[rows, 0])  # (B, H)
                outputs.append(out)
            x = torch.cat(outputs, dim=-1)  # (B, T, directions * H)
        h = torch.cat(finals, dim=-1)  # (B, layers * directions * H)
        mu, logvar = self.to_gaussian(h).float().chunk(2, dim=-1)
        return mu, logvar

    def initial_hidden(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder start state from z: (B, Z) -> (L, B, H)."""
        h = self.latent_to_hidden(z).view(z.shape[0], self.config.decoder_layers, self.config.decoder_hidden)
        return h.transpose(0, 1).contiguous()

    def decode(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: z (B, Z), input ids (B, T) starting with bos -> logits (B, T, V)."""
        x = self.embedding(inputs)  # (B, T, E)
        x = torch.cat([x, z.unsqueeze(1).expand(-1, inputs.shape[1], -1).to(x.dtype)], dim=-1)  # (B, T, E + Z)
        out, _ = self.decoder(x, self.initial_hidden(z))  # (B, T, H)
        return self.head(out)

    def latent_gates(self, z: torch.Tensor) -> torch.Tensor:
        """z's share of the first decoder layer's input gates, input bias included: (B, Z) -> (B, 3H).

        z enters the decoder at every step, but W_ih [e_t; z] + b_ih = W_e e_t + (W_z z + b_ih): the second term is
        the same at every step of a molecule, so decoding computes it once per molecule instead of concatenating z
        to every step's input (equivalence: tests/test_model.py).
        """
        e = self.embedding.embedding_dim
        weight = self.decoder.weight_ih_l0
        return F.linear(z.to(weight.dtype), weight[:, e:], self.decoder.bias_ih_l0)

    def token_gates(self) -> torch.Tensor:
        """Each token's share of the first decoder layer's input gates: (V, 3H) (the embedding times W_e)."""
        e = self.embedding.embedding_dim
        return self.embedding.weight @ self.decoder.weight_ih_l0[:, :e].T

    def step(
        self, tokens: torch.Tensor, gates: torch.Tensor, h: torch.Tensor, table: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: tokens (B,), ``latent_gates(z)`` (B, 3H), h (L, B, H) -> logits (B, V), new h (L, B, H).

        ``table`` is ``token_gates()``, computed once per decoding call (else here). Same numbers as running
        ``self.decoder`` on [embedding(tokens); z] (eval mode: no dropout between layers).
        """
        table = self.token_gates() if table is None else table
        gru = self.decoder
        gi = table[tokens].float() + gates.float()  # (B, 3H) input gates of layer 1
        x = _gru_update(gi, h[0], gru.weight_hh_l0, gru.bias_hh_l0)  # (B, H)
        states = [x]
        for layer in range(1, self.config.decoder_layers):
            gi = F.linear(x, getattr(gru, f"weight_ih_l{layer}"), getattr(gru, f"bias_ih_l{layer}"))
            x = _gru_update(gi, h[layer], getattr(gru, f"weight_hh_l{layer}"), getattr(gru, f"bias_hh_l{layer}"))
            states.append(x)
        return self.head(x), torch.stack(states)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, word_dropout: float = 0.0, sample: bool = True,
        source: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Encode, sample z, decode with teacher forcing. ids (B, T) as bos..eos pad -> logits (B, T-1, V); with a
        property head also ``properties`` (B, P), standardized predictions from mu. ``source``: other ids (B, T')
        and lengths (B,) for the encoder to read (another spelling of the same molecules); default ``ids``."""
        mu, logvar = self.encode(*(source if source is not None else (ids, lengths)))
        z = reparameterize(mu, logvar) if sample else mu
        inputs = ids[:, :-1]
        if word_dropout > 0 and self.training:
            drop = torch.rand(inputs.shape, device=inputs.device) < word_dropout
            drop[:, 0] = False  # keep bos
            inputs = inputs.masked_fill(drop, self.pad_id)
        out = {"logits": self.decode(z, inputs), "targets": ids[:, 1:], "mu": mu, "logvar": logvar, "z": z}
        if self.property_head is not None:
            out["properties"] = self.property_head(mu)
        return out
