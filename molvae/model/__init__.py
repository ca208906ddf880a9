"""The VAE itself (encoder, reparameterization, decoder, property head; tensors only, no RDKit), decoding and
sampling from it, the property head's fitting, and checkpoints (safetensors + JSON)."""
