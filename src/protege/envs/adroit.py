"""The Adroit hand tasks of DAPG's paper (gymnasium-robotics): `adroit/door`, `hammer`, `relocate`, `pen`.

A 24-30-DoF Shadow-like hand (actions in [-1, 1], 100 Hz control, 200 steps) with dense rewards. Success
follows the DAPG paper's test: the env's per-step goal (door open, nail driven in, ball at the target, pen
aligned with the target) is achieved on more than 25 steps of the episode (20 for pen). `AdroitEnv`
counts those steps and reports `info["success"]` once the count passes the threshold, so the task's usual
any-step success test applies and an episode may end there.

There is no scripted expert: users bring hand demonstrations (e.g. recorded by teleoperation) and run
`protege dapg`; `protege rl` runs on these tasks as is. When gymnasium-robotics is not installed the
module registers nothing rather than breaking imports. Observation dicts are `{"state": (D,) float32}`
(door 39, hammer 46, relocate 39, pen 45).
"""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np

from protege.envs.registry import register
from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

# task -> (gymnasium id, goal-achieved steps needed for success, short description)
ADROIT_TASKS = {
    "door": ("AdroitHandDoor-v1", 25, "open a door by its latch"),
    "hammer": ("AdroitHandHammer-v1", 25, "pick up a hammer and drive in a nail"),
    "relocate": ("AdroitHandRelocate-v1", 25, "move a ball to a target position"),
    "pen": ("AdroitHandPen-v1", 20, "re-orient a pen to a target orientation"),
}


class AdroitEnv(gym.Env):
    """An Adroit env with dict observations and `info["success"]` = goal held for more than `need` steps."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, env_id: str, need: int, render_mode: str | None = None):
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
        self._env = gym.make(env_id, render_mode=render_mode)
        self.need = int(need)
        self.render_mode = render_mode
        self.action_space = self._env.action_space
        self.observation_space = gym.spaces.Dict(
            {"state": gym.spaces.Box(-np.inf, np.inf, self._env.observation_space.shape, np.float32)})
        self.horizon = int(self._env.spec.max_episode_steps or 200)
        self.dt = float(self._env.unwrapped.dt)
        self._achieved = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self._env.reset(seed=seed, options=options)
        self._achieved = 0
        return {"state": np.asarray(obs, np.float32)}, dict(info, goal_achieved=False, success=False)

    def step(self, action):
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(action, np.float32))
        achieved = bool(info.get("success", False))  # gymnasium-robotics' per-step goal test
        self._achieved += int(achieved)
        info = dict(info, goal_achieved=achieved, goal_steps=self._achieved, success=self._achieved > self.need)
        return {"state": np.asarray(obs, np.float32)}, float(reward), bool(terminated), bool(truncated), info

    def render(self):
        return self._env.render()

    def close(self) -> None:
        self._env.close()


class _NoExpert:
    def __init__(self, name: str):
        raise ProtegeError(f"{name}: expected a task with a scripted expert, found none (Adroit tasks need "
                           f"demonstrations you bring, e.g. `protege dapg --task {name} --demos DIR`)")


def _make_task(short: str) -> Task:
    env_id, need, what = ADROIT_TASKS[short]
    probe = AdroitEnv(env_id, need)
    spec = Spec(observation={"state": ArraySpec(probe.observation_space["state"].shape)},
                action=ArraySpec(probe.action_space.shape, low=probe.action_space.low, high=probe.action_space.high),
                fps=1.0 / probe.dt)
    horizon, fps = probe.horizon, 1.0 / probe.dt
    probe.close()
    name = f"adroit/{short}"
    return Task(name=name, make_env=lambda render_mode=None: AdroitEnv(env_id, need, render_mode=render_mode),
                make_expert=lambda: _NoExpert(name), step_success=lambda info: bool(info.get("success", False)),
                horizon=horizon, fps=fps, spec=spec, stop_on_success=True,
                description=f"Adroit hand {short}: {what} (gymnasium-robotics {env_id}; success = goal on "
                            f"more than {need} steps)")


def available() -> bool:
    return importlib.util.find_spec("gymnasium_robotics") is not None


if available():
    for _short in ADROIT_TASKS:
        register(f"adroit/{_short}", lambda s=_short: _make_task(s))
