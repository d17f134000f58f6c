"""`gaussian`: a stochastic MLP policy for reinforcement learning, pre-trainable by behavioural cloning.

pi(a | s) = N(mu(s), diag(exp(log_std))^2) in *normalised* action units (the action normaliser maps the
demonstrated range to [-1, 1]); mu is an MLP of the normalised observation, log_std a learned vector that
does not depend on the state (as in DAPG). Behavioural cloning trains both by maximum likelihood through
the shared `train_bc` loop, so RL starts exactly where BC ended. Executing the policy (`select_action`,
`protege eval`) uses the mean, clipped to [-1, 1]; RL samples around it (see `algos/rl/rollout.py`).

It deliberately holds no RL machinery (value function, optimisers): those live in `algos/`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from protege.data.windows import Batch
from protege.errors import ProtegeError
from protege.policies.base import PolicyBase
from protege.policies.common import require
from protege.policies.encoders import EncoderConfig
from protege.policies.encoders.conditioning import ConditioningConfig
from protege.policies.nets import mlp
from protege.specs import Spec

_LOG_2PI = math.log(2 * math.pi)


@dataclass
class GaussianConfig:
    hidden_dims: tuple[int, ...] = (128, 128)
    """Width of each hidden layer of the mean network."""
    activation: str = "tanh"
    """Hidden activation: "tanh" (smooth, what natural-gradient methods are usually run with) or "mish"."""
    init_log_std: float = -1.0
    """Initial log standard deviation per action dimension, in normalised action units."""
    min_log_std: float = -2.5
    """Floor on the log standard deviation (keeps maximum-likelihood BC from collapsing exploration)."""

    def __post_init__(self) -> None:
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        require(bool(self.hidden_dims) and min(self.hidden_dims) >= 1, "gaussian", "hidden_dims", "positive widths",
                self.hidden_dims)
        require(self.activation in _ACTIVATIONS, "gaussian", "activation", f"one of {sorted(_ACTIVATIONS)}",
                self.activation)
        require(self.init_log_std >= self.min_log_std, "gaussian", "init_log_std",
                f">= min_log_std={self.min_log_std}", self.init_log_std)


_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "mish": nn.Mish}


class GaussianPolicy(PolicyBase):
    name = "gaussian"

    def __init__(self, config: GaussianConfig, spec: Spec, stats: dict | None = None,
                 encoder: EncoderConfig | None = None,
                 conditioning: ConditioningConfig | None = None):
        super().__init__(config, spec, stats, n_obs=1, horizon=1, encoder=encoder,
                         conditioning=conditioning)
        self.mean_net = mlp(self.obs_dim, config.hidden_dims, self.action_dim, layer_norm=False,
                            activation=_ACTIVATIONS[config.activation])
        # A small last layer starts the mean near the middle of the range: a sane start for RL from scratch.
        with torch.no_grad():
            self.mean_net[-1].weight.mul_(0.01)
            self.mean_net[-1].bias.zero_()
        self.log_std = nn.Parameter(torch.full((self.action_dim,), float(config.init_log_std)))

    # --- the distribution, on normalised features (B, obs_dim) ---------------------------------------
    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) raw observations (keys concatenated in `obs_keys` order) -> (B, obs_dim) normalised.
        The RL path reads flat state vectors only; behavioural cloning (`compute_loss`) reads cameras too."""
        if self.camera_keys:
            raise ProtegeError(f"gaussian: reinforcement learning reads state vectors only; this policy reads "
                               f"cameras {self.camera_keys} (train it with --encoder none, or by BC only)")
        if self.conditioning is not None:
            raise ProtegeError(f"gaussian: reinforcement learning reads state vectors only; this policy is "
                               f"conditioned on {self.conditioning.kind}s (use it by BC only)")
        return self.obs_normalizer(obs.float())

    def mean_log_std(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, obs_dim) normalised -> mean (B, A) and log std (A,), both in normalised action units."""
        return self.mean_net(feats), self.log_std.clamp(min=self.config.min_log_std)

    def log_prob(self, feats: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a | s) for (B, obs_dim) normalised features and (B, A) normalised actions -> (B,)."""
        mean, log_std = self.mean_log_std(feats)
        z = (actions - mean) * torch.exp(-log_std)
        return -0.5 * (z**2).sum(-1) - log_std.sum() - 0.5 * self.action_dim * _LOG_2PI

    # --- behavioural cloning ------------------------------------------------------------------------
    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative log-likelihood of the first target action (normalised units), weighted per sample."""
        feats = self.obs_features(batch.obs)[:, -1]
        target = self.action_normalizer(batch.action[:, 0])
        nll = -self.log_prob(feats, target)
        loss = (nll * batch.weight).sum() / batch.weight.sum()
        with torch.no_grad():
            mse = ((self.mean_net(feats) - target) ** 2).mean()
        return loss, {"nll": float(loss.detach()), "mse": float(mse)}

    # --- acting: the mean, clipped to the normalised range --------------------------------------------
    def _predict_normalized(self, feats: torch.Tensor) -> torch.Tensor:
        return self.mean_net(feats[:, -1]).clamp(-1.0, 1.0)[:, None]
