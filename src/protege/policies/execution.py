"""Execution settings of chunking heads: what a config names, turned into the one controller's settings.

The strategies themselves (observation history, receding-horizon queue, temporal ensembling, held draws)
live once in `protege.controller`, which eval and deploy both run; this module validates the config
fields every chunking head shares and builds `ExecutionSettings` from them explicitly.
"""

from __future__ import annotations

from typing import Any

from protege.controller import (EXECUTIONS, ActionQueue, ExecutionSettings, Strategy, TemporalEnsembler,
                                make_strategy)
from protege.policies.common import require

__all__ = ["EXECUTIONS", "ActionQueue", "TemporalEnsembler", "ExecutionSettings", "make_executor",
           "check_chunk_config", "chunk_settings"]


def make_executor(execution: str, horizon: int, n_action_steps: int, ensemble_m: float) -> Strategy:
    """The strategy a head's config names: "receding" (ActionQueue) or "ensemble" (TemporalEnsembler)."""
    require(execution in EXECUTIONS, "execution", "execution", f"one of {EXECUTIONS}", execution)
    return make_strategy(ExecutionSettings(horizon=horizon, execution=execution, n_action_steps=n_action_steps,
                                           ensemble_m=ensemble_m))


def chunk_settings(config: Any, noise_shape: tuple[int, ...] | None = None,
                   held: tuple[int, ...] = ()) -> ExecutionSettings:
    """A chunking config's execution: its horizon, history, strategy, n_action_steps and m, plus the
    per-sample noise a prediction draws (sampling heads) and the channels of it held per episode."""
    return ExecutionSettings(n_obs=config.n_obs, horizon=config.horizon, execution=config.execution,
                             n_action_steps=config.n_action_steps, ensemble_m=config.ensemble_m,
                             noise_shape=noise_shape, held=held)


def check_chunk_config(config: Any, head: str) -> None:
    """Validate the fields every chunking config shares: horizon, n_obs, execution, n_action_steps, m."""
    require(config.horizon >= 1, head, "horizon", ">= 1", config.horizon)
    require(config.n_obs >= 1, head, "n_obs", ">= 1", config.n_obs)
    require(config.execution in EXECUTIONS, head, "execution", f"one of {EXECUTIONS}", config.execution)
    require(1 <= config.n_action_steps <= config.horizon, head, "n_action_steps",
            f"in [1, horizon={config.horizon}]", config.n_action_steps)
    require(config.ensemble_m >= 0, head, "ensemble_m", ">= 0", config.ensemble_m)
