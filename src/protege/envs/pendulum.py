"""`pendulum` and `pendulum-pd`: gymnasium's Pendulum-v1 with a swing-up expert and a textbook PD expert.

Success (documented in the README): the pole is upright, |theta| < 0.2 rad (11.5 degrees), on every one
of the last 50 steps (2.5 s at 20 Hz) of the 200-step episode. Episodes always run the full horizon,
since balancing, not reaching upright once, is the task.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.registry import register
from protege.envs.task import Task
from protege.experts.pendulum import PDExpert, SwingUpExpert
from protege.specs import ArraySpec, Spec

UPRIGHT_ANGLE = 0.2
SUCCESS_WINDOW = 50
HORIZON = 200


class PendulumEnv(gym.Wrapper):
    """Pendulum-v1 with dict observations `{"state": (cos, sin, theta') float32}` and `info["upright"]`."""

    def __init__(self, render_mode: str | None = None):
        super().__init__(gym.make("Pendulum-v1", render_mode=render_mode, max_episode_steps=HORIZON))
        self.observation_space = gym.spaces.Dict({"state": self.env.observation_space})

    @staticmethod
    def _wrap(obs: np.ndarray, info: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        angle = float(np.arctan2(obs[1], obs[0]))
        info = dict(info, angle=angle, upright=abs(angle) < UPRIGHT_ANGLE)
        return {"state": obs.astype(np.float32)}, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._wrap(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(np.asarray(action, np.float32))
        obs, info = self._wrap(obs, info)
        return obs, float(reward), terminated, truncated, info


def _make(name: str, expert: type) -> Task:
    spec = Spec(observation={"state": ArraySpec((3,))}, action=ArraySpec((1,), low=[-2.0], high=[2.0]), fps=20.0)
    return Task(name=name, make_env=lambda render_mode=None: PendulumEnv(render_mode=render_mode),
                make_expert=expert, step_success=lambda info: bool(info.get("upright", False)),
                horizon=HORIZON, fps=20.0, spec=spec, stop_on_success=False, success_window=SUCCESS_WINDOW,
                description="gymnasium Pendulum-v1 swing-up and balance (3-D state, 1-D torque)")


register("pendulum", lambda: _make("pendulum", SwingUpExpert))
register("pendulum-pd", lambda: _make("pendulum-pd", PDExpert))
