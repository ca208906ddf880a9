"""A learned prior: a normalizing flow fitted to where the encoder puts molecules (the aggregate posterior q(z)).

A VAE trained for reconstruction puts its codes on a shape N(0, I) does not describe; a density model fitted to the
codes after training, and sampled instead of N(0, I), is the two-stage recipe of Dai & Wipf (2019) and of latent
generative models since (an autoencoder that keeps the information, then a density on its codes). Unlike the
exemplar mixture (``model.prior``), the flow does not replay training posteriors: it is a smooth density with a
fixed number of weights, so its draws fall between the training codes as well as on them.

The flow is zuko's neural spline flow (Durkan et al. 2019) with coupling layers (``passes=2``: one pass each way,
so sampling 30,000 codes costs a few passes of small MLPs): ``n_transforms`` rational-quadratic spline couplings
with a seeded random feature order each, on codes standardized by the aggregate posterior's mean and standard
deviation (splines act on [-5, 5]). ``widen`` scales the base distribution's standard deviation when sampling
(1: the fitted density; > 1 buys novelty with closeness to the data, as the mixture's ``widen`` does).

Checkpoints hold the flow as tensors (``flow_*``) and its ``FlowSpec`` as JSON (``extra['flow']``); tensors only
here (no RDKit, no tokenizer). Shapes: N codes, Z latent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
import zuko
from torch import nn

PREFIX = "flow_"  # checkpoint tensor names: flow_<state_dict key>
SPEC_KEY = "flow"  # checkpoint JSON: the FlowSpec


@dataclass(frozen=True)
class FlowSpec:
    """The flow's shape: Z features, ``n_transforms`` spline couplings with MLPs of two ``hidden``-wide layers,
    ``bins`` spline bins, feature orders drawn by ``seed``; ``widen``: the sampling spread (base standard deviation)."""

    features: int
    n_transforms: int = 8
    hidden: int = 256
    bins: int = 8
    seed: int = 0
    widen: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FlowSpec:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def _build_flow(spec: FlowSpec) -> zuko.flows.Flow:
    """The untrained zuko flow of ``spec``: coupling spline transforms, each with its own seeded feature order."""
    generator = torch.Generator().manual_seed(spec.seed)
    transforms = [
        zuko.flows.MaskedAutoregressiveTransform(
            features=spec.features, passes=2, order=torch.randperm(spec.features, generator=generator),
            univariate=partial(zuko.transforms.MonotonicRQSTransform, slope=1e-3),
            shapes=[(spec.bins,), (spec.bins,), (spec.bins - 1,)], hidden_features=(spec.hidden, spec.hidden),
        )
        for _ in range(spec.n_transforms)
    ]
    base = zuko.flows.UnconditionalDistribution(zuko.distributions.DiagNormal, torch.zeros(spec.features),
                                                torch.ones(spec.features), buffer=True)
    return zuko.flows.Flow(transforms, base)


class FlowPrior(nn.Module):
    """p(z) by a spline flow on standardized codes: x = (z - shift) / scale, x = f^-1(u), u ~ N(0, I)."""

    def __init__(self, spec: FlowSpec, shift: torch.Tensor | None = None, scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.flow = _build_flow(spec)
        self.register_buffer("shift", torch.zeros(spec.features) if shift is None else shift.float().clone())
        self.register_buffer("scale", torch.ones(spec.features) if scale is None else scale.float().clone())

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) of each row of z (N, Z) -> (N,), in z's own units (the standardization's Jacobian included)."""
        x = (z.float() - self.shift) / self.scale
        return self.flow().log_prob(x) - self.scale.log().sum()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, widen: float | None = None,
               chunk: int = 8192) -> torch.Tensor:
        """n draws (n, Z); the base draws come from ``generator`` (same seed, same codes). ``widen`` None: the spec's."""
        widen = self.spec.widen if widen is None else widen
        u = torch.randn(n, self.spec.features, generator=generator) * widen  # (n, Z)
        transform = self.flow().transform
        x = torch.cat([transform.inv(part) for part in u.split(chunk)]) if n else u
        return x * self.scale + self.shift

    def tensors(self) -> dict[str, torch.Tensor]:
        """For a checkpoint's extra tensors (contiguous copies)."""
        return {f"{PREFIX}{k}": v.detach().contiguous().clone() for k, v in self.state_dict().items()}

    def store(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Put this flow into a checkpoint's JSON ``extra`` and ``tensors`` as its sampling source (replacing any flow
        stored there before, whatever its shape)."""
        for stale in [k for k in tensors if k.startswith(PREFIX)]:
            del tensors[stale]
        tensors.update(self.tensors())
        extra[SPEC_KEY] = self.spec.to_dict()
        extra["sample_source"] = "flow"

    @classmethod
    def from_checkpoint(cls, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> FlowPrior | None:
        """The flow stored in a checkpoint (extra tensors and JSON), or None when it has none."""
        if SPEC_KEY not in extra or not any(k.startswith(PREFIX) for k in tensors):
            return None
        prior = cls(FlowSpec.from_dict(extra[SPEC_KEY]))
        state = {k[len(PREFIX):]: v for k, v in tensors.items() if k.startswith(PREFIX)}
        prior.load_state_dict(state)
        return prior.eval()
