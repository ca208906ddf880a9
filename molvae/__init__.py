"""molvae: a SMILES variational autoencoder."""

__version__ = "0.1.0"
