"""Judging a model: the MOSES metrics, ``evaluate`` against reference sets, reconstruction, and reports."""
