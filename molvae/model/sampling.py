"""Batched autoregressive decoding of z into SMILES (multinomial with a temperature, greedy, beam search), and
where z comes from (prior, aggregate posterior, around a point, along a path).

Rows that have produced ``<eos>`` leave the batch, so finished molecules stop costing compute; large requests are
decoded in batches of bounded size, so memory does not grow with n.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from molvae.device import autocast
from molvae.model.vae import VAE
from molvae.smiles.grammar import SmilesSyntax
from molvae.smiles.tokenizer import BOS_ID, EOS_ID, PAD_ID, Vocabulary


@torch.no_grad()
def decode_ids(
    model: VAE,
    z: torch.Tensor,
    max_length: int,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    syntax: SmilesSyntax | None = None,
) -> torch.Tensor:
    """Token ids (B, max_length + 1) decoded from z (B, Z): tokens then ``<eos>``, ``<pad>`` after it.

    A row that reaches max_length tokens without ``<eos>`` ends there (its string is cut, usually invalid).
    ``temperature`` <= 0 or ``greedy`` takes the argmax. ``syntax``: only tokens that keep the string a valid SMILES
    prefix may be drawn (molvae.smiles.grammar); None: any token.
    """
    was_training = model.training
    model.eval()
    batch = z.shape[0]
    device = z.device
    out = torch.full((batch, max_length + 1), PAD_ID, dtype=torch.long, device=device)
    active = torch.arange(batch, device=device)  # rows of `out` still being decoded
    tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    gates = model.latent_gates(z)  # (B, 3H): z's constant share of the first layer's gates
    table = model.token_gates()  # (V, 3H)
    h = model.initial_hidden(z)
    greedy = greedy or temperature <= 0
    state = syntax.start(batch, max_length) if syntax is not None else None
    for t in range(max_length + 1):
        logits, h = model.step(tokens, gates, h, table)  # (b, V), (L, b, H)
        logits = logits.float()
        logits[:, PAD_ID] = float("-inf")
        logits[:, BOS_ID] = float("-inf")
        if state is not None:
            logits.masked_fill_(~syntax.allowed(state).to(device), float("-inf"))
        if t == max_length:
            tokens = torch.full_like(tokens, EOS_ID)
        elif greedy:
            tokens = logits.argmax(dim=-1)
        else:
            tokens = draw(logits / temperature, generator)
        out[active, t] = tokens
        if state is not None:
            state = syntax.advance(state, tokens)
        going = tokens != EOS_ID
        if not bool(going.all()):
            if not bool(going.any()):
                break
            active, tokens, gates, h = active[going], tokens[going], gates[going], h[:, going]
            if state is not None:
                state = state.take(going.cpu())
    model.train(was_training)
    return out


def draw(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row from softmax(logits) (b, V) -> (b,), by inverse CDF over the unnormalized weights: one
    uniform per row, and tokens appended at the end with negligible weight (a grown vocabulary) change nothing."""
    weights = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)  # (b, V), the largest is 1
    cdf = weights.cumsum(dim=-1)  # a sequential scan per row on the CPU: the prefix sums do not depend on V
    u = torch.rand(logits.shape[0], 1, generator=generator, device=logits.device) * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=logits.shape[1] - 1)
    chosen = weights.gather(1, tokens.unsqueeze(1)).squeeze(1)
    return torch.where(chosen > 0, tokens, logits.argmax(dim=-1))  # u rounded up to the total: the likeliest


def ids_to_smiles(vocab: Vocabulary, ids: torch.Tensor) -> list[str]:
    """SMILES strings of decoded ids (B, T) (tokens up to the first eos)."""
    return vocab.decode(ids.cpu())


def decode_z(
    model: VAE,
    vocab: Vocabulary,
    z: torch.Tensor,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    batch_size: int = 2048,
    beam_width: int = 1,
    syntax_mask: bool = True,
    precision: str = "fp32",
) -> list[str]:
    """SMILES decoded from z (B, Z), in batches of at most ``batch_size`` rows (strings may be invalid).

    ``beam_width`` > 1: beam search (the most probable string); else greedy, or multinomial at ``temperature``.
    ``syntax_mask``: decode only syntactically valid SMILES (molvae.smiles.grammar); chemistry may still be wrong.
    ``precision``: 'bf16' runs the decoder's matrix products in bf16 (autocast; logits and sampling stay fp32).
    """
    syntax = SmilesSyntax(vocab) if syntax_mask else None
    out: list[str] = []
    device = next(model.parameters()).device
    for start in range(0, z.shape[0], batch_size):
        chunk = z[start : start + batch_size].to(device)
        with autocast(device, precision):
            if beam_width > 1:
                ids = beam_search_ids(model, chunk, vocab.max_length, beam_width, syntax)
            else:
                ids = decode_ids(model, chunk, vocab.max_length, temperature, greedy, generator, syntax=syntax)
        out.extend(ids_to_smiles(vocab, ids))
    return out


@torch.no_grad()
def aggregate_posterior(
    model: VAE, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (Z,) and covariance (Z, Z) of the aggregate posterior q(z) = mean over x of q(z | x).

    Moments of the mixture: mean = E[mu], cov = Cov(mu) + E[diag(sigma^2)], over the (ids, lengths) batches given.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    mus, variances = [], []
    for ids, lengths in batches:
        mu, logvar = model.encode(ids.to(device), lengths.to(device))
        mus.append(mu.float().cpu())
        variances.append(logvar.float().exp().cpu())
    model.train(was_training)
    mu_all, var_all = torch.cat(mus), torch.cat(variances)  # (N, Z)
    centred = mu_all - mu_all.mean(0)
    cov = centred.T @ centred / max(1, len(mu_all) - 1) + torch.diag(var_all.mean(0))
    return mu_all.mean(0), cov


@torch.no_grad()
def beam_search_ids(
    model: VAE, z: torch.Tensor, max_length: int, width: int = 5, syntax: SmilesSyntax | None = None
) -> torch.Tensor:
    """The most probable sequence among ``width`` beams for each z (B, Z): ids (B, max_length + 1) as decode_ids
    (``syntax`` as there: each step's probabilities renormalized over the tokens it allows)."""
    was_training = model.training
    model.eval()
    batch, device = z.shape[0], z.device
    z_rep = z.repeat_interleave(width, dim=0)  # (B*k, Z)
    h = model.initial_hidden(z_rep)  # (L, B*k, H)
    gates, table = model.latent_gates(z_rep), model.token_gates()
    scores = torch.full((batch, width), float("-inf"), device=device)
    scores[:, 0] = 0.0
    tokens = torch.full((batch * width,), BOS_ID, dtype=torch.long, device=device)
    seqs = torch.full((batch, width, max_length + 1), PAD_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch, width, dtype=torch.bool, device=device)
    state = syntax.start(batch * width, max_length) if syntax is not None else None
    for t in range(max_length + 1):
        logits, h = model.step(tokens, gates, h, table)
        logits = logits.float()
        if state is not None:
            logits.masked_fill_(~syntax.allowed(state).to(device), float("-inf"))
        logp = torch.log_softmax(logits, dim=-1).view(batch, width, -1)  # (B, k, V)
        logp[..., PAD_ID] = float("-inf")
        logp[..., BOS_ID] = float("-inf")
        if t == max_length:  # out of room: every open beam ends here
            logp[..., :] = float("-inf")
            logp[..., EOS_ID] = 0.0
        # a finished beam stays as it is: one continuation (pad) that costs nothing
        logp = torch.where(finished.unsqueeze(-1), torch.full_like(logp, float("-inf")), logp)
        logp[..., PAD_ID] = torch.where(finished, 0.0, logp[..., PAD_ID])
        vocab_size = logp.shape[-1]
        candidates = (scores.unsqueeze(-1) + logp).view(batch, -1)  # (B, k*V)
        scores, flat = candidates.topk(width, dim=-1)  # (B, k)
        beam, token = flat // vocab_size, flat % vocab_size
        seqs = seqs.gather(1, beam.unsqueeze(-1).expand(-1, -1, seqs.shape[-1]))
        seqs[:, :, t] = token
        finished = finished.gather(1, beam) | (token == EOS_ID)
        rows = (beam + torch.arange(batch, device=device).unsqueeze(1) * width).view(-1)  # (B*k,)
        h = h[:, rows]
        tokens = token.view(-1)
        if state is not None:
            state = syntax.advance(state.take(rows.cpu()), tokens)
        if bool(finished.all()):
            break
    model.train(was_training)
    best = scores.argmax(dim=1)  # (B,)
    return seqs[torch.arange(batch, device=device), best]


def prior_batches(
    n: int, latent_dim: int, batch_size: int, generator: torch.Generator | None = None,
    mean: torch.Tensor | None = None, cov: torch.Tensor | None = None,
) -> Iterator[torch.Tensor]:
    """z batches (b, Z) adding up to n rows: N(0, I), or N(mean, cov) (the aggregate posterior) when given."""
    factor = None if cov is None else torch.linalg.cholesky(cov + 1e-6 * torch.eye(latent_dim))
    for start in range(0, n, batch_size):
        eps = torch.randn(min(batch_size, n - start), latent_dim, generator=generator)
        yield eps if factor is None else mean + eps @ factor.T


def around(z: torch.Tensor, n: int, radius: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points z + radius * eps, eps ~ N(0, I), around one z (Z,) -> (n, Z)."""
    return z.unsqueeze(0) + radius * torch.randn(n, z.shape[-1], generator=generator)


def path(a: torch.Tensor, b: torch.Tensor, n_steps: int, method: str = "slerp") -> torch.Tensor:
    """n_steps points from a (Z,) to b (Z,) inclusive, linear or spherical-linear (slerp): (n_steps, Z)."""
    weights = torch.linspace(0.0, 1.0, n_steps).unsqueeze(1)  # (S, 1)
    if method == "linear":
        return (1 - weights) * a + weights * b
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(omega) < 1e-6 or math.isclose(float(omega), math.pi, abs_tol=1e-6):
        return (1 - weights) * a + weights * b  # parallel or opposite: slerp is undefined, the line is the answer
    return (torch.sin((1 - weights) * omega) * a + torch.sin(weights * omega) * b) / torch.sin(omega)
