"""All 50 Meta-World v3 tasks as `metaworld/<task>`, with the scripted experts Meta-World ships.

Meta-World samples object and goal positions from `np.random` or a frozen task vector, so calling
`reset(seed=s)` twice on its own envs gives different variations. `MetaWorldEnv` makes the variation a
function of the seed alone: each `reset(seed=s)` reseeds the env's generator and samples the positions
from it, so one env object serves any number of reproducible episodes (building a fresh env per episode
costs ~0.2-0.6 s). The goal is observable (as in Meta-World's MT1 benchmark). Success is the env's own
`info["success"]`; an episode ends at its first success or after 500 steps.

`metaworld-vision/<task>` hides the object: the policy observes cameras (default corner2 + gripperPOV at
84x84) and a 7-D `state` = the hand position and gripper opening (full-state dims 0:4) and the goal (dims
36:39), never the object poses (dims 4:36). The scripted expert still needs the full state: the env also
returns it under `privileged.state`, a key outside the task's spec, which recording never writes and
policies (which read only their spec's keys) never see.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.registry import register
from protege.envs.task import Task
from protege.evaluation.video import choose_gl_backend
from protege.specs import ArraySpec, Spec

# MuJoCo reads MUJOCO_GL once, when it is first imported (here: by Meta-World, in this process or in a
# forkserver that preloads this module first); cameras and videos render off-screen, so choose now.
choose_gl_backend()

HORIZON = 500
# full-state dims a vision policy may see: hand xyz + gripper opening (0:4), goal xyz (36:39)
VISIBLE_DIMS = (0, 1, 2, 3, 36, 37, 38)
PRIVILEGED_KEY = "privileged.state"

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


class HiddenObjectEnv(gym.Wrapper):
    """`{"state": (39,)}` -> `{"state": (7,) dims 0:4 + 36:39, "privileged.state": (39,)}` (for the expert)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = gym.spaces.Dict({
            "state": gym.spaces.Box(-np.inf, np.inf, (len(VISIBLE_DIMS),), np.float32),
            PRIVILEGED_KEY: env.observation_space["state"]})

    @staticmethod
    def _split(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        full = obs["state"]
        return {"state": full[list(VISIBLE_DIMS)], PRIVILEGED_KEY: full}

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self._split(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._split(obs), reward, terminated, truncated, info


def _cheap_rendering(env: Any) -> None:
    """Shadows and reflections off: frames are ~3x cheaper and videos still read clearly."""
    env.model.light_castshadow[:] = 0
    env.model.mat_reflectance[:] = 0


class MetaWorldExpert:
    """Meta-World's scripted policy for one task, as an Actor (reads the full 39-D state under `key`)."""

    def __init__(self, env_name: str, key: str = "state"):
        from metaworld.policies import ENV_POLICY_MAP

        self._policy = ENV_POLICY_MAP[env_name]()
        self.name = f"metaworld:{env_name}"
        self.key = key

    def reset(self) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        action = self._policy.get_action(np.asarray(obs[self.key], dtype=np.float64))
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


def _make_vision_task(short: str) -> Task:
    from protege.envs.cameras import DEFAULT_CAMERAS, DEFAULT_IMAGE_SIZE, with_cameras

    env_name = f"{short}-v3"
    base = _make_task(short)
    hidden = dataclasses.replace(
        base, name=f"metaworld-vision/{short}",
        make_env=lambda render_mode=None: HiddenObjectEnv(MetaWorldEnv(env_name, render_mode=render_mode)),
        make_expert=lambda: MetaWorldExpert(env_name, key=PRIVILEGED_KEY),
        spec=dataclasses.replace(base.spec, observation={"state": ArraySpec((len(VISIBLE_DIMS),))}),
        description=(f"Meta-World v3 {short} from pixels, object hidden: cameras + 7-D state (hand xyz, "
                     f"gripper, goal xyz; full-state dims 0:4 and 36:39), never the object poses (dims 4:36)"))
    return with_cameras(hidden, DEFAULT_CAMERAS, DEFAULT_IMAGE_SIZE, name=hidden.name)


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
    register(f"metaworld-vision/{_short}", lambda s=_short: _make_vision_task(s))
