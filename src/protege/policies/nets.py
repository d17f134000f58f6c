"""Small network pieces shared by policies."""

from __future__ import annotations

from typing import Sequence

from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = True, dropout: float = 0.0,
        activation: type[nn.Module] = nn.Mish) -> nn.Sequential:
    """Linear -> [LayerNorm] -> activation -> [Dropout] per hidden layer, then a linear output layer."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        if layer_norm:
            layers.append(nn.LayerNorm(h))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)
