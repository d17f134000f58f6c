"""Normalisation as a torch module whose statistics are buffers.

A policy owns one `Normalizer` for observations and one for actions, so its checkpoint (safetensors)
carries the statistics and acts on raw env observations, returning env-unit actions. Two modes:

- "mean_std": (x - mean) / std, for observations.
- "min_max": maps [min, max] to [-1, 1], for actions predicted through a tanh.

Dimensions that never vary (std or range ~0) pass through centred but unscaled, rather than blowing up.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

Mode = Literal["mean_std", "min_max", "identity"]
_EPS = 1e-6


class Normalizer(nn.Module):
    """Elementwise affine normalisation over the last dimension: y = (x - shift) / scale."""

    def __init__(self, dim: int, mode: Mode = "mean_std", stats: dict | None = None):
        super().__init__()
        self.mode = mode
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        if stats is not None:
            self.set_stats(stats)

    def set_stats(self, stats: dict) -> None:
        if self.mode == "identity":
            return
        if self.mode == "mean_std":
            shift = np.asarray(stats["mean"], np.float64)
            scale = np.asarray(stats["std"], np.float64)
        elif self.mode == "min_max":
            lo, hi = np.asarray(stats["min"], np.float64), np.asarray(stats["max"], np.float64)
            shift, scale = (hi + lo) / 2, (hi - lo) / 2
        else:
            raise ValueError(f"unknown normalisation mode {self.mode!r}")
        scale = np.where(scale < _EPS, 1.0, scale)
        self.shift.copy_(torch.as_tensor(shift.reshape(-1), dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(scale.reshape(-1), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self.shift
