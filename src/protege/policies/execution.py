"""Execution strategies for chunking heads: how a stream of predicted chunks becomes one action per step.

Shared by every head that predicts H > 1 actions (one implementation, not one copy per head):

- `ActionQueue` (receding horizon): predict a chunk, execute its first `n_action_steps` actions, then
  predict again. Fewer network calls; the robot commits to each chunk for n steps.
- `TemporalEnsembler` (ACT's temporal ensembling): predict a chunk on *every* step and execute, for the
  current step, a weighted mean of every live chunk's prediction for it, with weights exp(-m * i) where
  i = 0 is the oldest chunk (as in ACT: a small m favours old predictions and smooths the motion).

Both work on batches of actions (B, A) and are driven by a `predict` callable returning (B, H, A), called
only when a new chunk is needed. They hold state between steps; `reset()` clears it at episode start.
They deliberately know nothing about networks or normalisation.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Protocol

import torch

from protege.policies.common import require

EXECUTIONS = ("receding", "ensemble")


class Executor(Protocol):
    def step(self, predict: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Action (B, A) for the current step; calls `predict()` -> (B, H, A) when it needs a new chunk."""

    def reset(self) -> None:
        """Forget queued actions and live chunks."""


class ActionQueue:
    """Receding horizon: execute the first `n_action_steps` actions of a chunk, then predict again."""

    def __init__(self, n_action_steps: int):
        if n_action_steps < 1:
            raise ValueError(f"n_action_steps must be >= 1, got {n_action_steps}")
        self.n_action_steps = int(n_action_steps)
        self._queue: deque[torch.Tensor] = deque()

    def step(self, predict: Callable[[], torch.Tensor]) -> torch.Tensor:
        if not self._queue:
            chunk = predict()
            if chunk.shape[1] < self.n_action_steps:
                raise ValueError(f"chunk of {chunk.shape[1]} steps is shorter than n_action_steps="
                                 f"{self.n_action_steps}")
            self._queue.extend(chunk[:, :self.n_action_steps].unbind(1))
        return self._queue.popleft()

    def reset(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)


class TemporalEnsembler:
    """Temporal ensembling: blend every live chunk's prediction for the current step.

    A chunk predicted k steps ago (k < H) predicts the current step with its entry k. With live chunks
    ordered oldest first (i = 0, 1, ...), the executed action is sum_i w_i a_i / sum_i w_i, w_i = exp(-m i).
    """

    def __init__(self, m: float, horizon: int):
        if m < 0:
            raise ValueError(f"ensemble coefficient m must be >= 0, got {m}")
        self.m, self.horizon = float(m), int(horizon)
        self._chunks: deque[torch.Tensor] = deque(maxlen=self.horizon)  # oldest first

    def weights(self, n: int) -> torch.Tensor:
        """Normalised weights (n,) for n live chunks, oldest first."""
        w = torch.exp(-self.m * torch.arange(n, dtype=torch.float64))
        return (w / w.sum()).float()

    def step(self, predict: Callable[[], torch.Tensor]) -> torch.Tensor:
        chunk = predict()
        if chunk.shape[1] != self.horizon:
            raise ValueError(f"expected chunks of {self.horizon} steps, got {chunk.shape[1]}")
        self._chunks.append(chunk)  # a chunk older than H steps has nothing left for now: maxlen drops it
        n = len(self._chunks)
        preds = torch.stack([c[:, n - 1 - i] for i, c in enumerate(self._chunks)], dim=1)  # (B, n, A)
        w = self.weights(n).to(preds)
        return (preds * w[None, :, None]).sum(1)

    def reset(self) -> None:
        self._chunks.clear()

    def __len__(self) -> int:
        return len(self._chunks)


def make_executor(execution: str, horizon: int, n_action_steps: int, ensemble_m: float) -> Executor:
    """The strategy a head's config names: "receding" (ActionQueue) or "ensemble" (TemporalEnsembler)."""
    if execution == "receding":
        return ActionQueue(n_action_steps)
    if execution == "ensemble":
        return TemporalEnsembler(ensemble_m, horizon)
    raise ValueError(f"execution must be one of {EXECUTIONS}, got {execution!r}")


def check_chunk_config(config: Any, head: str) -> None:
    """Validate the fields every chunking config shares: horizon, n_obs, execution, n_action_steps, m."""
    require(config.horizon >= 1, head, "horizon", ">= 1", config.horizon)
    require(config.n_obs >= 1, head, "n_obs", ">= 1", config.n_obs)
    require(config.execution in EXECUTIONS, head, "execution", f"one of {EXECUTIONS}", config.execution)
    require(1 <= config.n_action_steps <= config.horizon, head, "n_action_steps",
            f"in [1, horizon={config.horizon}]", config.n_action_steps)
    require(config.ensemble_m >= 0, head, "ensemble_m", ">= 0", config.ensemble_m)
