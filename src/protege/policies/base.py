"""The small base every policy shares: normalisation inside the model, observation history, execution.

A policy is an `nn.Module` built from (config, spec, stats). Its statistics are buffers, so a checkpoint
acts on raw env observations and returns env-unit actions. Concrete policies implement
`compute_loss(batch)` and `_predict_normalized(obs_features)`; this base turns that into

- `predict_chunk(obs)`: obs key -> (B, n_obs, ...) raw  ->  (B, H, A) env units;
- `select_action(obs)`: obs key -> (B, ...) raw for the current step  ->  (B, A) env units, through the
  one controller (`protege.controller`: history, queue or temporal ensemble, noise and held draws) that
  `protege deploy` runs too, with the settings `execution_settings()` states from the config;
- `reset()`: clears the controller's episode state.

It deliberately knows nothing about training loops, datasets on disk or simulators.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from protege.controller import Controller, ExecutionSettings, Strategy
from protege.data.normalizer import Normalizer
from protege.data.observation import flatten_observation
from protege.specs import Spec


class PolicyBase(nn.Module):
    name: ClassVar[str] = ""

    def __init__(self, config: Any, spec: Spec, stats: dict | None, n_obs: int = 1, horizon: int = 1):
        super().__init__()
        self.config, self.spec, self.stats = config, spec, stats
        self.n_obs, self.horizon = int(n_obs), int(horizon)
        self.obs_keys = [k for k, v in spec.observation.items() if len(v.shape) <= 1]
        self.obs_dim = sum(spec.observation[k].size for k in self.obs_keys)
        self.action_dim = spec.action_dim
        self.obs_normalizer = Normalizer(self.obs_dim, "mean_std")
        self.action_normalizer = Normalizer(self.action_dim, "min_max")
        if stats is not None:
            self.obs_normalizer.set_stats(_concat_stats(stats, self.obs_keys))
            self.action_normalizer.set_stats(stats["action"])
        self._controller: Controller | None = None  # built on first use, from `execution_settings()`

    # --- observations -------------------------------------------------------------------------
    def obs_features(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, n_obs, *shape) raw  ->  (B, n_obs, obs_dim) normalised, keys concatenated."""
        return self.obs_normalizer(flatten_observation(obs, self.obs_keys, batch_dims=2))

    # --- to implement -------------------------------------------------------------------------
    def compute_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    # --- training hooks (no-ops unless a head needs them) ---------------------------------------
    def fit_data(self, actions: torch.Tensor) -> None:
        """Data-dependent set-up from the training actions (N, A), env units, before the first step
        (e.g. the discrete head's quantile bins)."""

    def after_optimizer_step(self) -> None:
        """Called after every optimiser step (e.g. to update an EMA of the weights)."""

    def _predict_normalized(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, n_obs, obs_dim) normalised features -> (B, H, A) actions in normalised units ([-1, 1])."""
        raise NotImplementedError

    # --- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, n_obs, ...) raw  ->  (B, H, A) env units."""
        return self.action_normalizer.inverse(self._predict_normalized(self.obs_features(obs)))

    def _noise(self, noise: torch.Tensor | None, batch_size: int, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
        """A sampling head's standard-normal draws: `noise` when given, else drawn (shape `noise_shape(B)`)."""
        if noise is not None:
            return noise
        return torch.randn(self.noise_shape(batch_size), generator=generator, device=device)

    # --- execution: the one controller ----------------------------------------------------------
    def execution_settings(self) -> ExecutionSettings:
        """How this head executes. Here: a new prediction every step, its first action, no noise; chunking
        and sampling heads state theirs from their config (`policies.execution.chunk_settings`)."""
        return ExecutionSettings(n_obs=self.n_obs, horizon=self.horizon)

    def predict_numpy(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        """The controller's `predict`: history key -> (B, n_obs, ...) raw numpy, noise (B, *noise_shape) or
        None -> (B, H, A) numpy env units."""
        device = self.action_normalizer.shift.device
        obs = {k: torch.from_numpy(v).to(device) for k, v in history.items()}
        if noise is None:
            return self.predict_chunk(obs).cpu().numpy()
        return self.predict_chunk(obs, noise=torch.from_numpy(noise).to(device)).cpu().numpy()

    @property
    def controller(self) -> Controller:
        """The controller `select_action` runs; noise from torch's global generator (which evaluation seeds
        per episode)."""
        if self._controller is None:
            self._controller = Controller(self.execution_settings(), self.predict_numpy, self.obs_keys,
                                          normal=_global_normal)
        return self._controller

    @property
    def executor(self) -> Strategy:
        """The execution strategy (queue or temporal ensemble) of the controller."""
        return self.controller.strategy

    @executor.setter
    def executor(self, strategy: Strategy) -> None:  # e.g. an ablation trying another strategy
        self.controller.strategy = strategy

    def reset(self) -> None:
        if self._controller is not None:
            self._controller.reset()

    @torch.no_grad()
    def select_action(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, ...) raw, current step  ->  (B, A) env units to execute now."""
        raw = {k: obs[k].detach().cpu().numpy() for k in self.obs_keys}
        return torch.from_numpy(self.controller.act(raw))


def _global_normal(shape: tuple[int, ...]) -> np.ndarray:
    """Standard-normal draws (float32) from torch's global generator."""
    return torch.randn(shape).numpy()


def _concat_stats(stats: dict, keys: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"mean": [], "std": [], "min": [], "max": []}
    for k in keys:
        s = stats[f"observation.{k}"]
        for field in out:
            out[field].extend(s[field])
    return out
