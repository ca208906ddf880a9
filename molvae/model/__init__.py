"""The VAE itself (encoder, reparameterization, decoder, property head; tensors only, no RDKit), decoding and
sampling from it, the property head's fitting, and checkpoints (safetensors + JSON)."""

from molvae.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from molvae.model.latent import LatentModel
from molvae.model.sampling import aggregate_posterior, beam_search_ids, decode_ids, decode_z
from molvae.model.vae import VAE, kl_per_dim, reparameterize, vae_loss

__all__ = [
    "Checkpoint",
    "LatentModel",
    "VAE",
    "aggregate_posterior",
    "beam_search_ids",
    "decode_ids",
    "decode_z",
    "kl_per_dim",
    "load_checkpoint",
    "reparameterize",
    "save_checkpoint",
    "vae_loss",
]
