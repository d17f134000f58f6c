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
    stop_on_success: end the episode at the first successful step (only where one step's success decides
        the episode, i.e. success_window 0: with a window, stopping at the first success would end the
        episode before the window could fill).
    success_window: 0 = an episode succeeds if any step succeeded; k > 0 = if each of its last k steps
        succeeded (and the episode ran at least k steps).
    cameras: camera observation keys the env renders (uint8 (image_size, image_size, 3) each); () for none.
    image_size: pixels per side of each camera frame (0 without cameras).
    camera_base: the same task without cameras (set by `envs.cameras.with_cameras`, which replaces a task's
        cameras rather than adding to them).

    `episode_done` is the one end-of-episode rule: evaluation, recording, teleop, DAgger, RL sampling
    and the simulated robot all ask it, so an episode ends at the same step whoever runs it.
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
    cameras: tuple[str, ...] = ()
    image_size: int = 0
    camera_base: "Task | None" = None

    def episode_success(self, step_successes: Sequence[bool]) -> bool:
        if self.success_window <= 0:
            return any(step_successes)
        k = self.success_window
        return len(step_successes) >= k and all(step_successes[-k:])

    @property
    def ends_on_success(self) -> bool:
        """Whether a successful step ends the episode (see `stop_on_success`)."""
        return self.stop_on_success and self.success_window <= 0

    def episode_done(self, steps: int, terminated: bool, truncated: bool, success: bool) -> bool:
        """Whether the episode is over after its `steps`-th step (1-based), given that step's
        `terminated`/`truncated` from `env.step` and `success` (`step_success(info)`): the env ended it,
        the horizon is reached, or (tasks that end on success) the step succeeded."""
        return bool(terminated or truncated or steps >= self.horizon or (self.ends_on_success and success))
