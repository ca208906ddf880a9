"""Growing a trained model's vocabulary for fine-tuning: new tokens are appended, and the weights are extended so
that the model's outputs on the old tokens do not change until training moves the new rows.

Shapes: V old vocabulary, V' = V + K extended, H hidden, Z latent, E embedding (V for one-hot embeddings).
- embedding (V, E): one-hot and identity embeddings become the (V', V') identity; a learned one gets K zero rows.
- encoder input weights (3H, E): one-hot inputs gain K zero columns (a new token adds nothing until trained).
- decoder layer-0 input weights (3H, E + Z): K zero columns between the token part and the z part.
- output head (V, H) and bias (V,): K rows of zeros with bias ``NEW_TOKEN_BIAS``, so the old tokens' logits are
  bit-identical and a new token is (almost) never chosen before training.
"""

from __future__ import annotations

import torch

from molvae.config import ModelConfig

NEW_TOKEN_BIAS = -20.0  # exp(-20) ~ 2e-9: below float32's resolution next to the old tokens' probabilities


def _insert_columns(weight: torch.Tensor, at: int, k: int) -> torch.Tensor:
    """``weight`` (R, C) with k zero columns inserted before column ``at``: (R, C + k)."""
    zeros = weight.new_zeros(weight.shape[0], k)
    return torch.cat([weight[:, :at], zeros, weight[:, at:]], dim=1)


def extend_state(state: dict[str, torch.Tensor], config: ModelConfig, old_size: int,
                 new_size: int) -> dict[str, torch.Tensor]:
    """A copy of a VAE state dict for a vocabulary grown from ``old_size`` to ``new_size`` tokens (the new ones
    appended at the end)."""
    k = new_size - old_size
    if k < 0:
        raise ValueError(f"a vocabulary can only grow ({old_size} -> {new_size})")
    out = dict(state)
    if k == 0:
        return out
    one_hot = config.embedding != "learned"
    emb = state["embedding.weight"]  # (V, E)
    out["embedding.weight"] = (torch.eye(new_size, dtype=emb.dtype) if one_hot
                               else torch.cat([emb, emb.new_zeros(k, emb.shape[1])]))
    if one_hot:  # the input width grows with the vocabulary
        directions = 2 if config.encoder_bidirectional else 1
        for i in range(directions):  # the first layer's GRUs read the embedding
            name = f"encoder.{i}.weight_ih_l0"
            out[name] = _insert_columns(state[name], old_size, k)
        out["decoder.weight_ih_l0"] = _insert_columns(state["decoder.weight_ih_l0"], old_size, k)
    head_w, head_b = state["head.weight"], state["head.bias"]  # (V, H), (V,)
    out["head.weight"] = torch.cat([head_w, head_w.new_zeros(k, head_w.shape[1])])
    out["head.bias"] = torch.cat([head_b, head_b.new_full((k,), NEW_TOKEN_BIAS)])
    return out
