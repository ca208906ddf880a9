"""Latent-space optimization: objectives and their oracle, search bookkeeping, gradient / BO / random search.

The optimizers take any object that satisfies ``optimization.latent.LatentModel`` (``MolVAE`` does), never the API
class itself."""
