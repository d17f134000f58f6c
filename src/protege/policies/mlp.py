"""`mlp`: the reference behavioural-cloning policy (an MLP regressing the action with MSE).

An MLP with LayerNorm maps the (normalised, optionally stacked) observation history to one action, squashed
by tanh into the normalised action range [-1, 1] and trained with MSE. The H = 1 case of the Policy seam.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from protege.data.windows import Batch
from protege.policies.base import PolicyBase
from protege.policies.common import masked_step_mean, require
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.nets import mlp
from protege.specs import Spec


@dataclass
class MLPConfig:
    hidden_dims: tuple[int, ...] = (256, 256, 256)
    """Width of each hidden layer."""
    n_obs: int = 1
    """Observation history length (1 = the current observation only)."""
    layer_norm: bool = True
    """LayerNorm after each hidden linear layer."""
    dropout: float = 0.0
    """Dropout after each hidden activation. 0.1 helps small Meta-World demonstration sets (used in
    benchmarks/bc_scaling.py) but costs precision on balancing tasks such as pendulum, so it is off by default."""
    obs_noise: float = 0.0
    """Std of Gaussian noise added to the normalised observations during training (0 = off): a cheap
    stand-in for noise injection that makes the policy see, and act sensibly in, slightly off-demo states."""

    def __post_init__(self) -> None:
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        require(self.n_obs >= 1, "mlp", "n_obs", ">= 1", self.n_obs)
        require(bool(self.hidden_dims) and min(self.hidden_dims) >= 1, "mlp", "hidden_dims", "positive widths",
                self.hidden_dims)
        require(0 <= self.dropout < 1, "mlp", "dropout", "a value in [0, 1)", self.dropout)
        require(self.obs_noise >= 0, "mlp", "obs_noise", ">= 0", self.obs_noise)


class MLPPolicy(PolicyBase):
    name = "mlp"

    def __init__(self, config: MLPConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=config.n_obs, horizon=1, encoder=encoder,
                         conditioning=conditioning)
        self.net = mlp(self.obs_dim * config.n_obs, config.hidden_dims, self.action_dim,
                       layer_norm=config.layer_norm, dropout=config.dropout)

    def _predict_normalized(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(feats.flatten(1)))[:, None]

    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE in normalised action space between the prediction and the first target action."""
        feats = self.obs_features(batch.obs)
        if self.training and self.config.obs_noise > 0:
            feats = feats + self.config.obs_noise * torch.randn_like(feats)
        pred = self._predict_normalized(feats)[:, 0]
        target = self.action_normalizer(batch.action[:, 0])
        loss = masked_step_mean(((pred - target) ** 2).mean(-1)[:, None], batch.action_pad[:, :1], batch.weight)
        return loss, {"mse": float(loss.detach())}
