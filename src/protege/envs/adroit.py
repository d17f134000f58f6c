"""The Adroit hand tasks of DAPG's paper over gymnasium-robotics: `adroit/door`, `hammer`, `relocate`, `pen`.

A 24-30-DoF Shadow-like hand (actions in [-1, 1], 100 Hz control). Observation dicts are `{"state": (D,)
float32}` (door 39, hammer 46, relocate 39, pen 45, the v0 layout unchanged). What follows the paper
(Rajeswaran et al., RSS 2018, env code in mj_envs' `*_v0.py`) rather than gymnasium-robotics'
`AdroitHand*-v1`, with the evidence measured in docs/adroit.md:

- **Success**: the env's per-step goal (door open past 1.35 rad, nail in, ball within 0.1 m of the target,
  pen at the target pose) achieved on more than 25 steps of the episode (more than 20 for pen), the test
  of hand_dapg's `evaluate_success`. `AdroitEnv` counts goal steps and reports `info["success"]` once the
  count passes it, so the task's any-step success test applies and an episode may end there.
- **Horizons**: door, hammer, relocate 200 steps; pen 100 (v1 registers 200).
- **Reward** (default, `paper`): v1's dense door/hammer/relocate reward adds `+0.1 * ||palm - handle/
  hammer/ball||` where v0 (the paper's) subtracts it (gymnasium-robotics PR #220; fixed upstream as v2,
  unreleased), so under v1 moving the hand away from the object pays. Here the term gets the paper's sign
  back: reward = v1 reward - 0.2 * that distance. The README checked the result against the v0 formula:
  expert returns 3011.9 / 16333.2 / 4401.8 on door / hammer / relocate (v1: 3019.9 / 16334.2 / 4404.1).
  Pen's reward is the same in both. `adroit/<task>[reward=v1]` gives v1's reward unchanged (everything
  else as here); `info` carries both (`reward_paper`, `reward_v1`) whichever is returned.
- **Pen ends when the pen falls** (its height below 0.075 m), as v0 did (`goal_failed`); v1 never ends it.

The correction relies on gymnasium-robotics 1.4.2's v1 code (pinned in pyproject).

Experts: each task's expert is the DAPG authors' trained policy (`experts/hand_dapg.py`), read from
`<dir>/<task>.json` + `<task>.safetensors`, with `<dir>` the environment variable
`PROTEGE_ADROIT_EXPERTS`, else `../shared/adroit/experts` beside this source checkout. Measured with
these tasks (mean action, 50 seeds each): see README's Adroit section. When gymnasium-robotics is not
installed the module registers nothing rather than breaking imports. Cameras are not set up here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from protege.envs.registry import register, register_resolver
from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

EXPERTS_ENV = "PROTEGE_ADROIT_EXPERTS"
"""Environment variable naming the folder of the converted hand_dapg experts (`<task>.json` + `.safetensors`)."""
REWARDS = ("paper", "v1")
PEN_DROP_HEIGHT = 0.075
"""v0 pen: the episode fails (ends) when the pen's centre falls below this height (m)."""
DISTANCE_SIGN_FIX = -0.2
"""Paper reward = v1 reward + this * ||palm - object||: v1's +0.1 * d becomes the paper's -0.1 * d."""


@dataclass(frozen=True)
class AdroitSpec:
    env_id: str
    need: int
    """Goal steps needed: success = goal achieved on more than `need` steps."""
    horizon: int
    what: str


ADROIT_TASKS = {
    "door": AdroitSpec("AdroitHandDoor-v1", 25, 200, "open a door by its latch"),
    "hammer": AdroitSpec("AdroitHandHammer-v1", 25, 200, "pick up a hammer and drive in a nail"),
    "relocate": AdroitSpec("AdroitHandRelocate-v1", 25, 200, "move a ball to a target position"),
    "pen": AdroitSpec("AdroitHandPen-v1", 20, 100, "re-orient a pen to a target orientation"),
}


def hand_to_object(short: str, env) -> float:
    """The distance (m) v1 and the paper both weight by 0.1 (with opposite signs), from the unwrapped
    env's current state: palm to door handle (door), to the hammer's body (hammer), to the ball (relocate).
    Pen has no such term: 0."""
    d = env.data
    if short == "door":
        return float(np.linalg.norm(d.site_xpos[env.grasp_site_id] - d.site_xpos[env.handle_site_id]))
    if short in ("hammer", "relocate"):
        return float(np.linalg.norm(d.site_xpos[env.S_grasp_site_id] - d.xpos[env.obj_body_id]))
    return 0.0


class AdroitEnv(gym.Env):
    """An Adroit env with dict observations, the paper's reward (or v1's), horizon and success test.

    info: `goal_achieved` (this step), `goal_steps` (so far), `success` (goal_steps > need), `reward_paper`,
    `reward_v1`. `reset(options={"initial_state_dict": ...})` restores a recorded start state
    (gymnasium-robotics' own option; demonstrations read from Minari carry it in `info["reset_options"]`).
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, short: str, reward: str = "paper", render_mode: str | None = None):
        import gymnasium_robotics

        if reward not in REWARDS:
            raise ProtegeError(f"adroit/{short}: reward: expected one of {list(REWARDS)}, found {reward!r}")
        spec = ADROIT_TASKS[short]
        gym.register_envs(gymnasium_robotics)
        self._env = gym.make(spec.env_id, max_episode_steps=spec.horizon, render_mode=render_mode)
        self.short, self.reward, self.need, self.horizon = short, reward, spec.need, spec.horizon
        self.render_mode = render_mode
        self.action_space = self._env.action_space
        self.observation_space = gym.spaces.Dict(
            {"state": gym.spaces.Box(-np.inf, np.inf, self._env.observation_space.shape, np.float32)})
        self.dt = float(self._env.unwrapped.dt)
        self._achieved = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if options and isinstance(options.get("initial_state_dict"), dict):  # lists, as JSON holds them
            state = {k: np.asarray(v, np.float64) for k, v in options["initial_state_dict"].items()}
            options = dict(options, initial_state_dict=state)
        obs, info = self._env.reset(seed=seed, options=options)
        self._achieved = 0
        return {"state": np.asarray(obs, np.float32)}, dict(info, goal_achieved=False, goal_steps=0, success=False)

    def step(self, action):
        obs, reward_v1, terminated, truncated, info = self._env.step(np.asarray(action, np.float32))
        env = self._env.unwrapped
        reward_paper = float(reward_v1) + DISTANCE_SIGN_FIX * hand_to_object(self.short, env)
        if self.short == "pen" and env.data.xpos[env.obj_body_id][2] < PEN_DROP_HEIGHT:
            terminated = True
        achieved = bool(np.any(info.get("success", False)))  # gymnasium-robotics' per-step goal test
        self._achieved += int(achieved)
        info = dict(info, goal_achieved=achieved, goal_steps=self._achieved, success=self._achieved > self.need,
                    reward_paper=reward_paper, reward_v1=float(reward_v1))
        reward = reward_paper if self.reward == "paper" else float(reward_v1)
        return {"state": np.asarray(obs, np.float32)}, reward, bool(terminated), bool(truncated), info

    def render(self):
        return self._env.render()

    def close(self) -> None:
        self._env.close()


def default_expert_dir() -> Path:
    """`../shared/adroit/experts` beside the source checkout this module lives in (src/protege/envs/)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "adroit" / "experts"


def expert_dir() -> Path:
    """Where the experts are read from: $PROTEGE_ADROIT_EXPERTS, else `default_expert_dir()`."""
    value = os.environ.get(EXPERTS_ENV)
    return Path(value).expanduser() if value else default_expert_dir()


def load_expert(short: str, folder: str | Path | None = None):
    """The DAPG authors' `short` policy (an Actor: mean action) from `folder` (default `expert_dir()`),
    checked against the task's observation and action sizes."""
    from protege.envs.registry import get_task
    from protege.experts.hand_dapg import HandDapgExpert, check_expert_matches

    folder = Path(folder) if folder is not None else expert_dir()
    prefix = folder / short
    missing = [p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".safetensors")) if not p.is_file()]
    if missing:
        raise ProtegeError(f"adroit/{short} expert: expected the DAPG authors' policy at {missing[0]} (set "
                           f"{EXPERTS_ENV} to the folder holding {short}.json + {short}.safetensors), found no such file")
    expert = HandDapgExpert(prefix)
    spec = get_task(f"adroit/{short}").spec
    check_expert_matches(expert, spec.observation["state"].shape[0], spec.action.shape[0], f"adroit/{short}")
    return expert


def _make_task(short: str) -> Task:
    spec_ = ADROIT_TASKS[short]
    probe = AdroitEnv(short)
    fps = 1.0 / probe.dt
    spec = Spec(observation={"state": ArraySpec(probe.observation_space["state"].shape)},
                action=ArraySpec(probe.action_space.shape, low=probe.action_space.low, high=probe.action_space.high),
                fps=fps)
    probe.close()
    return Task(name=f"adroit/{short}", make_env=lambda render_mode=None: AdroitEnv(short, render_mode=render_mode),
                make_expert=lambda: load_expert(short), step_success=lambda info: bool(info.get("success", False)),
                horizon=spec_.horizon, fps=fps, spec=spec, stop_on_success=True,
                description=f"Adroit hand {short}: {spec_.what} (gymnasium-robotics {spec_.env_id} with the DAPG "
                            f"paper's reward; success = goal on more than {spec_.need} steps; expert = the DAPG "
                            f"authors' policy)")


_OPTIONS = re.compile(r"^adroit/(?P<short>[a-z]+)\[reward=(?P<reward>[a-z0-9]+)\]$")


def _resolve(name: str) -> Task | None:
    """`adroit/door[reward=v1]`: the task with gymnasium-robotics v1's reward (`[reward=paper]` = the default)."""
    m = _OPTIONS.match(name)
    if m is None or m["short"] not in ADROIT_TASKS:
        return None
    short, reward = m["short"], m["reward"]
    if reward not in REWARDS:
        raise ProtegeError(f"task {name}: reward: expected one of {list(REWARDS)}, found {reward!r}")
    from protege.envs.registry import get_task

    base = get_task(f"adroit/{short}")
    if reward == "paper":
        return base
    return dataclasses.replace(base, name=name,
                               make_env=lambda render_mode=None: AdroitEnv(short, reward, render_mode=render_mode),
                               description=base.description.replace("the DAPG paper's reward", "v1's reward"))


def available() -> bool:
    return importlib.util.find_spec("gymnasium_robotics") is not None


if available():
    for _short in ADROIT_TASKS:
        register(f"adroit/{_short}", lambda s=_short: _make_task(s))
    register_resolver(_resolve)
