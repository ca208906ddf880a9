"""Training: ``fit`` (the loop as named steps), batching, schedules, in-run validation, torchrun helpers, the loss
curve, and fitting a property predictor on a frozen model."""

from molvae.training.property_fit import fit_on_file
from molvae.training.train import Run, TrainResult, fit, resume_config, run_validation, set_up, train_epoch, train_step

__all__ = [
    "Run",
    "TrainResult",
    "fit",
    "fit_on_file",
    "resume_config",
    "run_validation",
    "set_up",
    "train_epoch",
    "train_step",
]
