"""What a task is: an environment, an expert, a success test, a horizon and a control rate.

Environments follow gymnasium's API with dict observations (`{"state": (D,) float32}` for state-based
tasks) so that datasets, policies and robots all speak one observation format. `reset(seed=s)` must give
the same initial state for the same `s` every time, on the same env object: reproducible episodes are
built on that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import gymnasium as gym

from protege.actor import Actor
from protege.specs import Spec


@dataclass(frozen=True)
class Task:
    """A registered task.

    name: registry name, e.g. "metaworld/pick-place".
    make_env: builds the env; `render_mode="rgb_array"` for videos.
    make_expert: builds a scripted expert Actor (it may read privileged simulator state).
    step_success: whether one step's `info` shows success.
    horizon: maximum steps per episode.
    fps: control rate in Hz.
    spec: observation/action spec of the env.
    stop_on_success: end the episode at the first successful step.
    success_window: 0 = an episode succeeds if any step succeeded; k > 0 = if each of its last k steps
        succeeded (and the episode ran at least k steps).
    """

    name: str
    make_env: Callable[..., gym.Env]
    make_expert: Callable[[], Actor]
    step_success: Callable[[dict[str, Any]], bool]
    horizon: int
    fps: float
    spec: Spec
    stop_on_success: bool = True
    success_window: int = 0
    description: str = ""

    def episode_success(self, step_successes: Sequence[bool]) -> bool:
        if self.success_window <= 0:
            return any(step_successes)
        k = self.success_window
        return len(step_successes) >= k and all(step_successes[-k:])
