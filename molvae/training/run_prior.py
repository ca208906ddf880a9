"""The prior a training run fits when it ends (``train.prior = "flow"``): a flow (``model.flow``) fitted to the codes
of the best checkpoint's training molecules and written into ``best.safetensors``, the file users load, so a model
samples from where its codes are without a second command (``molvae fit-prior`` refits one later)."""

from __future__ import annotations

from typing import Any

from molvae.model.checkpoint import load_checkpoint, save_checkpoint
from molvae.model.flow import FlowSpec
from molvae.training.flow_fit import FlowFit, fit_flow
from molvae.training.prior_fit import encoder_moments
from molvae.training.run import Run


def attach_flow_prior(run: Run, progress: bool) -> dict[str, Any]:
    """Fit the flow prior to the best checkpoint's posteriors of the first ``prior_molecules`` training molecules
    and store it in ``best.safetensors`` as its sampling source, with ``sample_temperature`` as the temperature its
    samples are drawn at by default; returns what it was fitted on."""
    cfg = run.config.train
    path = run.run_dir / "best.safetensors"
    checkpoint = load_checkpoint(path)
    model = checkpoint.build_model().to(run.device)
    rows = run.train_idx[: cfg.prior_molecules]
    mu, variance = encoder_moments(model, run.ids[rows], run.corpus.lengths[rows], run.device)
    flow, report = fit_flow(mu, variance, FlowSpec(mu.shape[1], seed=cfg.seed),
                            FlowFit(epochs=cfg.prior_epochs, seed=cfg.seed), progress=progress)
    fit = {"data": str(run.data.resolve()), "sha256": run.corpus.sha256, "n_molecules": len(rows), "method": "flow",
           "widen": 1.0, "epochs": cfg.prior_epochs, **report.as_dict()}
    extra = {**checkpoint.extra, "prior_fit": fit, "sample_temperature": float(cfg.sample_temperature)}
    tensors = dict(checkpoint.extra_tensors)
    flow.store(extra, tensors)
    save_checkpoint(path, model, checkpoint.vocab, checkpoint.config, checkpoint.train_state, None, extra=extra,
                    extra_tensors=tensors)
    return fit
