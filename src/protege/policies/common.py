"""Pieces several heads share: masked chunk losses, noise conversion for traceable sampling, EMA.

Sampling heads take their randomness as an explicit standard-normal `noise` tensor (shape given by the
head's `noise_shape(B)`), so an exported graph can receive noise as an input; discrete choices (a mixture
component, a bin) turn a normal draw into a uniform one with the normal CDF and invert the categorical CDF,
which keeps the whole sampler a pure tensor function.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from protege.errors import ProtegeError, bad_input


def masked_step_mean(per_step: torch.Tensor, pad: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of a per-step loss (B, H) over steps that are not padding (pad (B, H) True = past the episode
    end), each sample weighted by weight (B,)."""
    keep = (~pad).float()
    per_sample = (per_step * keep).sum(1) / keep.sum(1).clamp_min(1.0)
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-12)


def normal_to_uniform(z: torch.Tensor) -> torch.Tensor:
    """Standard-normal draws -> uniform draws in (0, 1) (the normal CDF)."""
    return (0.5 * (1 + torch.erf(z / math.sqrt(2)))).clamp(1e-6, 1 - 1e-6)


def sample_categorical(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Index of a category drawn from softmax(logits) (..., K) using standard-normal draws z (...,)."""
    cdf = torch.softmax(logits, -1).cumsum(-1)
    u = normal_to_uniform(z)[..., None]
    return (cdf < u).sum(-1).clamp_max(logits.shape[-1] - 1)


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t (B,) float (diffusion step index or flow time x 1000) -> (B, dim) sin/cos features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


class EMA(nn.Module):
    """An exponential moving average of a module's weights, kept as a frozen copy (saved in checkpoints).

    decay ramps up as min(decay, (1 + n) / (10 + n)) so early, poor weights are forgotten quickly.
    """

    def __init__(self, model: nn.Module, decay: float):
        super().__init__()
        self.decay = float(decay)
        self.model = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        n = int(self.updates)
        d = min(self.decay, (1 + n) / (10 + n))
        for e, s in zip(self.model.parameters(), source.parameters()):
            e.lerp_(s.detach(), 1 - d)
        for e, s in zip(self.model.buffers(), source.buffers()):
            e.copy_(s)
        self.updates += 1


class PolicyConfigError(ProtegeError, ValueError):
    """A policy config field out of range: one line for the CLI, still a ValueError for callers."""


def require(ok: bool, head: str, field: str, expected: str, found: object) -> None:
    """Raise `<head> config: field '<field>': expected <expected>, found <found>` unless `ok`."""
    if not ok:
        raise PolicyConfigError(str(bad_input(f"{head} config", field, expected, repr(found))))
