"""`chunked`: an MLP that regresses the next H actions at once (MSE), executed by a shared strategy.

The deterministic chunking baseline: like `mlp` it averages disagreeing demonstrations, but predicting a
chunk and executing it with receding horizon or temporal ensembling reduces compounding errors and
smooths pauses in the demonstrations. Padding steps past an episode's end are left out of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from protege.data.windows import Batch
from protege.policies.base import PolicyBase
from protege.policies.common import masked_step_mean, require
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.execution import ExecutionSettings, check_chunk_config, chunk_settings
from protege.policies.nets import mlp
from protege.specs import Spec


@dataclass
class ChunkedConfig:
    horizon: int = 8
    """Actions per predicted chunk (H)."""
    n_obs: int = 1
    """Observation history length."""
    execution: str = "receding"
    """Execution strategy: "receding" (execute n_action_steps, then predict) or "ensemble" (temporal ensembling)."""
    n_action_steps: int = 4
    """Actions executed per chunk with receding horizon."""
    ensemble_m: float = 0.01
    """Temporal-ensembling weight decay m: weight exp(-m*i), i = 0 for the oldest chunk."""
    hidden_dims: tuple[int, ...] = (256, 256, 256)
    """Width of each hidden layer."""
    layer_norm: bool = True
    """LayerNorm after each hidden linear layer."""

    def __post_init__(self) -> None:
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        check_chunk_config(self, "chunked")
        require(bool(self.hidden_dims) and min(self.hidden_dims) >= 1, "chunked", "hidden_dims", "positive widths",
                self.hidden_dims)


class ChunkedPolicy(PolicyBase):
    name = "chunked"

    def __init__(self, config: ChunkedConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=config.n_obs, horizon=config.horizon, encoder=encoder,
                         conditioning=conditioning)
        self.net = mlp(self.obs_dim * config.n_obs, config.hidden_dims, config.horizon * self.action_dim,
                       layer_norm=config.layer_norm)

    def execution_settings(self) -> ExecutionSettings:
        return chunk_settings(self.config)

    def _predict_normalized(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(feats.flatten(1))).view(-1, self.horizon, self.action_dim)

    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE in normalised units over the chunk, padding steps left out."""
        pred = self._predict_normalized(self.obs_features(batch.obs))
        per_step = ((pred - self.action_normalizer(batch.action)) ** 2).mean(-1)
        loss = masked_step_mean(per_step, batch.action_pad, batch.weight)
        return loss, {"mse": float(loss.detach())}
