"""All 50 Meta-World v3 tasks as `metaworld/<task>`, with the scripted experts Meta-World ships.

Meta-World samples object and goal positions from `np.random` or a frozen task vector, so calling
`reset(seed=s)` twice on its own envs gives different variations. `MetaWorldEnv` makes the variation a
function of the seed alone: each `reset(seed=s)` reseeds the env's generator and samples the positions
from it, so one env object serves any number of reproducible episodes (building a fresh env per episode
costs ~0.2-0.6 s). The goal is observable (as in Meta-World's MT1 benchmark). Success is the env's own
`info["success"]`; an episode ends at its first success or after 500 steps.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.registry import register
from protege.envs.task import Task
from protege.specs import ArraySpec, Spec

HORIZON = 500

# Meta-World's scripted policies warn on every construction that their gains saturate the [-1, 1] clip.
warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high", category=UserWarning)


class MetaWorldEnv(gym.Env):
    """A Meta-World v3 env with dict observations `{"state": (39,) float32}` and seed-reproducible resets."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, env_name: str, render_mode: str | None = None, width: int = 240, height: int = 240):
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS

        kwargs: dict[str, Any] = {}
        if render_mode is not None:
            kwargs = dict(render_mode=render_mode, width=width, height=height, camera_name="corner2")
        env = ALL_V3_ENVIRONMENTS[env_name](**kwargs)
        env._partially_observable = False  # goal observable, as in MT1
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True  # sample positions from env.np_random, which reset(seed) reseeds
        del env.sawyer_observation_space  # recomputed for the observable goal
        env._set_task_called = True
        env.max_path_length = HORIZON
        if render_mode is not None:
            _cheap_rendering(env)
        self._env = env
        self.render_mode = render_mode
        self.action_space = env.action_space
        self.observation_space = gym.spaces.Dict(
            {"state": gym.spaces.Box(-np.inf, np.inf, env.observation_space.shape, np.float32)})
        self.dt = float(env.dt)

    @property
    def unwrapped_env(self) -> Any:
        return self._env

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._env.seed(int(seed))
        obs, info = self._env.reset()
        return {"state": obs.astype(np.float32)}, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(action, dtype=np.float64))
        return {"state": obs.astype(np.float32)}, float(reward), bool(terminated), bool(truncated), info

    def render(self):
        frame = self._env.render()
        return None if frame is None else np.ascontiguousarray(frame[::-1])  # MuJoCo renders bottom-up

    def close(self) -> None:
        self._env.close()


def _cheap_rendering(env: Any) -> None:
    """Shadows and reflections off: frames are ~3x cheaper and videos still read clearly."""
    env.model.light_castshadow[:] = 0
    env.model.mat_reflectance[:] = 0


class MetaWorldExpert:
    """Meta-World's scripted policy for one task, as an Actor (reads the observation's `state`)."""

    def __init__(self, env_name: str):
        from metaworld.policies import ENV_POLICY_MAP

        self._policy = ENV_POLICY_MAP[env_name]()
        self.name = f"metaworld:{env_name}"

    def reset(self) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        action = self._policy.get_action(np.asarray(obs["state"], dtype=np.float64))
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


def _success(info: dict[str, Any]) -> bool:
    return bool(info.get("success", 0.0))


def _make_task(short: str) -> Task:
    env_name = f"{short}-v3"
    spec = Spec(observation={"state": ArraySpec((39,))},
                action=ArraySpec((4,), low=[-1.0] * 4, high=[1.0] * 4), fps=80.0)
    return Task(
        name=f"metaworld/{short}",
        make_env=lambda render_mode=None: MetaWorldEnv(env_name, render_mode=render_mode),
        make_expert=lambda: MetaWorldExpert(env_name),
        step_success=_success,
        horizon=HORIZON,
        fps=80.0,  # frame_skip 5 x 2.5 ms
        spec=spec,
        stop_on_success=True,
        description=f"Meta-World v3 {short} (Sawyer arm, 39-D state, 4-D end-effector delta + gripper)",
    )


def _task_names() -> list[str]:
    # The list Meta-World 3.x ships; kept here so listing tasks does not import MuJoCo.
    return ["assembly", "basketball", "bin-picking", "box-close", "button-press-topdown",
            "button-press-topdown-wall", "button-press", "button-press-wall", "coffee-button", "coffee-pull",
            "coffee-push", "dial-turn", "disassemble", "door-close", "door-lock", "door-open", "door-unlock",
            "drawer-close", "drawer-open", "faucet-close", "faucet-open", "hammer", "hand-insert",
            "handle-press-side", "handle-press", "handle-pull-side", "handle-pull", "lever-pull",
            "peg-insert-side", "peg-unplug-side", "pick-out-of-hole", "pick-place", "pick-place-wall",
            "plate-slide-back-side", "plate-slide-back", "plate-slide-side", "plate-slide", "push-back", "push",
            "push-wall", "reach", "reach-wall", "shelf-place", "soccer", "stick-pull", "stick-push", "sweep-into",
            "sweep", "window-close", "window-open"]


for _short in _task_names():
    register(f"metaworld/{_short}", lambda s=_short: _make_task(s))
