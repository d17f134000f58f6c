"""The small base every policy shares: normalisation inside the model, observation history, execution.

A policy is an `nn.Module` built from (config, spec, stats). Its statistics are buffers, so a checkpoint
acts on raw env observations and returns env-unit actions. Concrete policies implement
`compute_loss(batch)` and `_predict_normalized(obs_features)`; this base turns that into

- `predict_chunk(obs)`: obs key -> (B, n_obs, ...) raw  ->  (B, H, A) env units;
- `select_action(obs)`: obs key -> (B, ...) raw for the current step  ->  (B, A) env units, keeping the
  observation history and executing the chunk (here: its first action; chunking heads override the
  execution strategy);
- `reset()`: clears the history (and any queue).

It deliberately knows nothing about training loops, datasets on disk or simulators.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import torch
from torch import nn

from protege.data.normalizer import Normalizer
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
        self._history: deque[dict[str, torch.Tensor]] = deque(maxlen=self.n_obs)
        # Chunking heads set an execution strategy (policies/execution.py); None = execute the first action.
        self.executor: Any = None

    # --- observations -------------------------------------------------------------------------
    def obs_features(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, n_obs, *shape) raw  ->  (B, n_obs, obs_dim) normalised, keys concatenated."""
        parts = [obs[k].reshape(*obs[k].shape[:2], -1).float() for k in self.obs_keys]
        return self.obs_normalizer(torch.cat(parts, dim=-1))

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

    def reset(self) -> None:
        self._history.clear()
        if self.executor is not None:
            self.executor.reset()

    def _stacked_history(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self._history.append(obs)
        while len(self._history) < self.n_obs:  # repeat the first observation, as in training windows
            self._history.appendleft(self._history[0])
        return {k: torch.stack([h[k] for h in self._history], dim=1) for k in obs}

    @torch.no_grad()
    def select_action(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """obs key -> (B, ...) raw, current step  ->  (B, A) env units to execute now."""
        stacked = self._stacked_history(obs)  # every step, so the history stays current between chunks
        return self._execute(lambda: self.predict_chunk(stacked))

    def _execute(self, predict: Any) -> torch.Tensor:
        """The action to execute now from `predict()` -> (B, H, A): its first action, or the executor's."""
        if self.executor is None:
            return predict()[:, 0]
        return self.executor.step(predict)


def _concat_stats(stats: dict, keys: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"mean": [], "std": [], "min": [], "max": []}
    for k in keys:
        s = stats[f"observation.{k}"]
        for field in out:
            out[field].extend(s[field])
    return out
