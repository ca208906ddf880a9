"""Chemistry with RDKit and NumPy only (no torch): parsing and canonical forms, standardization, SA score, property
scores of sampled molecules, and compact hashes of canonical SMILES for novelty."""
