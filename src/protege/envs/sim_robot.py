"""A simulated Robot: any registered Task behind the deploy Robot protocol.

`connect()` builds the env and resets it; `get_observation()` returns the current state stamped with
the time it is read (the simulation is the physical state, so reading it is measuring it);
`send_action(a)` steps the simulation once. When an episode ends (horizon, termination, or success on
tasks that stop there) the robot resets to the next seed by itself, counts the episode and marks the
next observation `episode_start`, so a long deployment run spans many episodes, each executed from a
fresh controller as `protege eval` executes it. Lives in `envs/` because `deploy/` must not import simulators.
"""

from __future__ import annotations

import time

import numpy as np

from protege.deploy.robot import EPISODE_START_KEY, TIMESTAMP_KEY
from protege.envs.registry import get_task
from protege.envs.task import Task
from protege.errors import bad_input


class SimRobot:
    """Task -> Robot. `episodes` and `successes` count finished episodes."""

    def __init__(self, task: Task | str, seed: int = 0):
        self.task = get_task(task) if isinstance(task, str) else task
        self.spec = self.task.spec
        self.seed = seed
        self.name = f"sim:{self.task.name}"
        self.env = None
        self.episodes = self.successes = 0
        self.actions_sent = 0
        self.last_action: np.ndarray | None = None

    def _reset(self) -> None:
        self._obs, _ = self.env.reset(seed=self.seed + self.episodes)
        self._t = 0
        self._ok: list[bool] = []
        self._fresh = True  # until the first action of this episode

    def connect(self) -> None:
        self.env = self.task.make_env()
        self._reset()

    def get_observation(self) -> dict[str, np.ndarray]:
        if self.env is None:
            raise RuntimeError("SimRobot.get_observation before connect()")
        return {**self._obs, TIMESTAMP_KEY: np.float64(time.monotonic()), EPISODE_START_KEY: self._fresh}

    def send_action(self, action: np.ndarray) -> None:
        if self.env is None:
            raise RuntimeError("SimRobot.send_action before connect()")
        self.last_action = np.asarray(action, np.float32)
        self.actions_sent += 1
        self._fresh = False
        self._obs, _, terminated, truncated, info = self.env.step(self.last_action)
        self._t += 1
        self._ok.append(self.task.step_success(info))
        if self.task.episode_done(self._t, terminated, truncated, self._ok[-1]):
            self.successes += int(self.task.episode_success(self._ok))
            self.episodes += 1
            self._reset()

    def disconnect(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def make_robot(spec: str, seed: int = 0) -> SimRobot:
    """`sim:TASK` -> a SimRobot (the only kind protege ships; real robots implement the protocol)."""
    if not spec.startswith("sim:"):
        raise bad_input(None, "robot", "sim:TASK (e.g. sim:metaworld/pick-place)", f"'{spec}'")
    return SimRobot(spec[4:], seed=seed)
