"""molvae: a SMILES variational autoencoder."""

from typing import Any

from molvae.errors import MolVAEError

__version__ = "0.2.0"
__all__ = ["MolVAE", "MolVAEError", "__version__"]


def __getattr__(name: str) -> Any:
    """``molvae.MolVAE`` imports the API (torch, pandas, RDKit) on first use, not on ``import molvae``."""
    if name == "MolVAE":
        from molvae.api import MolVAE

        return MolVAE
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")
