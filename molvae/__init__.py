"""molvae: a SMILES variational autoencoder."""

__version__ = "0.1.0"

from molvae.api import MolVAE  # noqa: E402
from molvae.errors import MolVAEError  # noqa: E402

__all__ = ["MolVAE", "MolVAEError", "__version__"]
