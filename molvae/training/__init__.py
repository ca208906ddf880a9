"""Training: ``fit`` (the loop as named steps), batching, schedules, in-run validation, torchrun helpers, the loss
curve, and fitting a property predictor on a frozen model."""
