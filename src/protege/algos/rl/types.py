"""What every policy optimiser here shares: the on-policy batch, DAPG's demonstration term, and the
`PolicyOptimizer` protocol that `npg.py` and `ppo.py` implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from protege.policies.gaussian import GaussianPolicy


@dataclass
class PolicyBatch:
    """On-policy samples: feats (N, D) normalised observations; actions (N, A) sampled, normalised units;
    advantages (N,) normalised; old_log_prob (N,) log-likelihood under the sampling policy."""

    feats: torch.Tensor
    actions: torch.Tensor
    advantages: torch.Tensor
    old_log_prob: torch.Tensor


@dataclass
class DemoTerm:
    """DAPG's demonstration samples: feats (M, D), actions (M, A) normalised; weight: per-sample weight
    standing in for the advantage (lambda0 * lambda1^k * max advantage)."""

    feats: torch.Tensor
    actions: torch.Tensor
    weight: float


class PolicyOptimizer(Protocol):
    def update(self, policy: GaussianPolicy, batch: PolicyBatch, demos: DemoTerm | None) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
