"""Batched autoregressive decoding of z into SMILES: multinomial with a temperature, or greedy.

Rows that have produced ``<eos>`` leave the batch, so finished molecules stop costing compute.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from molvae.model import VAE
from molvae.tokenizer import BOS_ID, EOS_ID, PAD_ID, Vocabulary


@torch.no_grad()
def decode_ids(
    model: VAE,
    z: torch.Tensor,
    max_length: int,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    autocast: Callable[[], object] | None = None,
) -> torch.Tensor:
    """Token ids (B, max_length + 1) decoded from z (B, Z): tokens then ``<eos>``, ``<pad>`` after it.

    A row that reaches max_length tokens without ``<eos>`` ends there (its string is cut, usually invalid).
    ``temperature`` <= 0 or ``greedy`` takes the argmax.
    """
    was_training = model.training
    model.eval()
    batch = z.shape[0]
    device = z.device
    out = torch.full((batch, max_length + 1), PAD_ID, dtype=torch.long, device=device)
    active = torch.arange(batch, device=device)  # rows of `out` still being decoded
    tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    zs = z
    h = model.initial_hidden(z)
    greedy = greedy or temperature <= 0
    for t in range(max_length + 1):
        logits, h = model.step(tokens, zs, h)  # (b, V), (L, b, H)
        logits = logits.float()
        logits[:, PAD_ID] = float("-inf")
        logits[:, BOS_ID] = float("-inf")
        if t == max_length:
            tokens = torch.full_like(tokens, EOS_ID)
        elif greedy:
            tokens = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        out[active, t] = tokens
        going = tokens != EOS_ID
        if not bool(going.all()):
            if not bool(going.any()):
                break
            active, tokens, zs, h = active[going], tokens[going], zs[going], h[:, going]
    model.train(was_training)
    return out


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
) -> list[str]:
    """SMILES decoded from z (B, Z), in batches of at most ``batch_size`` rows (strings may be invalid)."""
    out: list[str] = []
    for start in range(0, z.shape[0], batch_size):
        ids = decode_ids(model, z[start : start + batch_size], vocab.max_length, temperature, greedy, generator)
        out.extend(ids_to_smiles(vocab, ids))
    return out
