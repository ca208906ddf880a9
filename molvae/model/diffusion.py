"""A learned prior: a small denoising diffusion model on the codes of the training molecules (latent diffusion).

A VAE trained for reconstruction puts its codes on a thin, curved set that N(0, I) does not describe; a density model
fitted to the codes after training, and sampled instead of N(0, I), is the two-stage recipe (Dai & Wipf 2019;
latent diffusion, Rombach et al. 2022). A diffusion model learns to remove Gaussian noise from codes at every noise
level (Ho et al. 2020); sampling runs the noise away from a Gaussian draw in a few deterministic DDIM steps (Song et
al. 2021), which ends on the codes' set rather than between its points. Unlike the exemplar mixture
(``model.prior``) it does not replay training posteriors: it has a fixed number of weights.

The denoiser is an MLP with residual blocks on codes standardized by the aggregate posterior's mean and standard
deviation; it predicts the noise eps of x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps under a cosine schedule a_t
(Nichol & Dhariwal 2021). ``widen`` scales the starting draw's standard deviation (1: the fitted density; < 1
concentrates the draws, > 1 spreads them).

Checkpoints hold the denoiser as tensors (``diffusion_*``) and its ``DiffusionSpec`` as JSON
(``extra['diffusion']``); tensors only here (no RDKit, no tokenizer). Shapes: N codes, Z latent, H hidden.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

PREFIX = "diffusion_"  # checkpoint tensor names: diffusion_<state_dict key>
SPEC_KEY = "diffusion"  # checkpoint JSON: the DiffusionSpec
CLIP = 6.0  # a denoised estimate of a standardized code is kept within +-CLIP (the first steps divide by ~0)


@dataclass(frozen=True)
class DiffusionSpec:
    """The denoiser's shape: Z features, ``blocks`` residual blocks ``hidden`` wide, a ``time_dim``-wide time
    embedding; ``sample_steps`` DDIM steps when sampling and ``widen`` the starting draw's standard deviation."""

    features: int
    hidden: int = 512
    blocks: int = 4
    time_dim: int = 128
    sample_steps: int = 50
    widen: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DiffusionSpec:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def signal_level(t: torch.Tensor) -> torch.Tensor:
    """The cosine schedule's a_t (the signal's share of the variance) at times t in [0, 1] (N,) -> (N,)."""
    s = 0.008
    return (torch.cos((t.clamp(0, 1) + s) / (1 + s) * math.pi / 2) ** 2).clamp(min=1e-5, max=1.0)


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (N, dim) of times t (N,) in [0, 1]."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = 1000.0 * t.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResidualBlock(nn.Module):
    """h + MLP(LayerNorm(h) + time features): (N, H) -> (N, H)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.time = nn.Linear(hidden, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, time_features: torch.Tensor) -> torch.Tensor:
        return h + self.mlp(self.norm(h) + self.time(time_features))


class Denoiser(nn.Module):
    """eps_theta(x_t, t): the noise in standardized noisy codes x_t (N, Z) at times t (N,) -> (N, Z)."""

    def __init__(self, spec: DiffusionSpec) -> None:
        super().__init__()
        self.time_dim = spec.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(spec.time_dim, spec.hidden), nn.SiLU())
        self.inp = nn.Linear(spec.features, spec.hidden)
        self.blocks = nn.ModuleList(ResidualBlock(spec.hidden) for _ in range(spec.blocks))
        self.out = nn.Sequential(nn.LayerNorm(spec.hidden), nn.SiLU(), nn.Linear(spec.hidden, spec.features))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        time_features = self.time_mlp(time_embedding(t, self.time_dim))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, time_features)
        return self.out(h)


class DiffusionPrior(nn.Module):
    """p(z) by denoising diffusion on standardized codes x = (z - shift) / scale."""

    def __init__(self, spec: DiffusionSpec, shift: torch.Tensor | None = None,
                 scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.denoiser = Denoiser(spec)
        self.register_buffer("shift", torch.zeros(spec.features) if shift is None else shift.float().clone())
        self.register_buffer("scale", torch.ones(spec.features) if scale is None else scale.float().clone())

    def standardize(self, z: torch.Tensor) -> torch.Tensor:
        """x (N, Z) of codes z (N, Z)."""
        return (z.float() - self.shift) / self.scale

    def loss(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The denoising loss (scalar): mean squared error of the predicted noise at uniform random times."""
        x0 = self.standardize(z)
        t = torch.rand(len(x0), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        a = signal_level(t)[:, None]
        return (self.denoiser(a.sqrt() * x0 + (1 - a).sqrt() * eps, t) - eps).pow(2).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, widen: float | None = None,
               steps: int | None = None, chunk: int = 8192) -> torch.Tensor:
        """n draws (n, Z) by ``steps`` deterministic DDIM steps from t = 1 to 0; the starting draws come from
        ``generator`` (same seed, same codes). ``widen``/``steps`` None: the spec's."""
        widen = self.spec.widen if widen is None else widen
        steps = self.spec.sample_steps if steps is None else steps
        x = torch.randn(n, self.spec.features, generator=generator) * widen  # (n, Z)
        return torch.cat([self._denoise(part, steps) for part in x.split(chunk)]) * self.scale + self.shift if n \
            else x

    @torch.no_grad()
    def renoise(self, z: torch.Tensor, level: float, generator: torch.Generator | None = None,
                steps: int | None = None) -> torch.Tensor:
        """Codes z (N, Z) noised to time ``level`` in (0, 1] and denoised back to t = 0 (SDEdit, Meng et al. 2022):
        new codes near z on the codes' set; level 1 forgets z (plain sampling). ``steps``: for the whole 1 -> 0."""
        steps = self.spec.sample_steps if steps is None else steps
        x0 = self.standardize(z)
        a = signal_level(torch.tensor([float(level)]))
        x = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=generator)
        return self._denoise(x, max(1, round(steps * level)), start=level) * self.scale + self.shift

    def _denoise(self, x: torch.Tensor, steps: int, start: float = 1.0) -> torch.Tensor:
        """DDIM (eta 0) from noisy codes x (N, Z) at t = start down to t = 0 in ``steps`` equal steps: (N, Z)."""
        times = torch.linspace(start, 0.0, steps + 1)
        for t_now, t_next in zip(times[:-1], times[1:]):
            a_now, a_next = signal_level(t_now.reshape(1)), signal_level(t_next.reshape(1))
            eps = self.denoiser(x, t_now.expand(len(x)))
            x0 = ((x - (1 - a_now).sqrt() * eps) / a_now.sqrt()).clamp(-CLIP, CLIP)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x

    def tensors(self) -> dict[str, torch.Tensor]:
        """For a checkpoint's extra tensors (contiguous copies)."""
        return {f"{PREFIX}{k}": v.detach().contiguous().clone() for k, v in self.state_dict().items()}

    def store(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Put this prior into a checkpoint's JSON ``extra`` and ``tensors`` as its sampling source."""
        tensors.update(self.tensors())
        extra[SPEC_KEY] = self.spec.to_dict()
        extra["sample_source"] = "diffusion"

    @classmethod
    def from_checkpoint(cls, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> DiffusionPrior | None:
        """The diffusion prior stored in a checkpoint (extra tensors and JSON), or None when it has none."""
        if SPEC_KEY not in extra or not any(k.startswith(PREFIX) for k in tensors):
            return None
        prior = cls(DiffusionSpec.from_dict(extra[SPEC_KEY]))
        prior.load_state_dict({k[len(PREFIX):]: v for k, v in tensors.items() if k.startswith(PREFIX)})
        return prior.eval()
