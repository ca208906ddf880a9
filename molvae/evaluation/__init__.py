"""Judging a model: the MOSES metrics, ``evaluate`` against reference sets, reconstruction, and reports."""

from molvae.evaluation.evaluate import Evaluation, Reference, evaluate_samples, load_reference
from molvae.evaluation.report import write_report

__all__ = [
    "Evaluation",
    "Reference",
    "evaluate_samples",
    "load_reference",
    "write_report",
]
