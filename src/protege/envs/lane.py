"""`lane`: a car on a lane-cell grid, built so that imitation learning's compounding error can show.

The seeds' highway example: a car trained on a driver who always stays centred never sees itself
off-centre, so when it drifts it never learned to come back. This task isolates exactly that, with the
horizon as a parameter (`lane[T=1000]`), and reports the per-step cost the theory bounds.

- The road bends by d_t in {-1, 0, +1} lane cells each step (i.i.d., uniform, drawn from the episode seed).
- The car sits at lateral cell y (0 = the lane centre); the action is a steering command in cells, executed
  rounded to the nearest integer and clipped to [-7, 7]. Off-centre, the road's camber pushes the car two
  more cells outward each step; a barrier stops it at |y| = 4:
      y' = clip(y + round(a) + d_t + 2 sign(y), -4, 4).
- The expert reads the true bend (the privileged key `privileged.bend`) and steers to the centre:
  a* = -d_t - 2 sign(y) - y, so from the centre it only ever counters bends (|a*| <= 1) and its own episodes
  never leave y = 0. Off-centre, a steer of at least 2 beyond the bend is needed to come back: no actor whose
  actions stay within the expert's on-centre range [-1, 1] can ever return (y' >= y for y > 0). A policy
  trained by behavioural cloning on the expert's demonstrations is such an actor: protege's heads map their
  output onto the range of the actions they were trained on.
- The learner sees the road through a camera: `state` = (y, the next 8 bends as read in this frame). A frame
  is glared with probability `glare` (default 0.001), and a glared frame misreads every bend in it (each
  reads as one of the two other values, at random). Nothing in one frame tells a glared frame apart, so
  even a perfectly trained learner errs on a fraction of about `glare` of its decisions: the theory's
  per-step error eps, the same for every learner, on the expert's states and on its own.
- Cost (the theory's 0-1 cost): 1 on each step that ends off-centre, else 0; `info["cost"]`, and the
  reward is -cost. Because the expert's action is the only one that lands on y = 0, this is also exactly
  1[round(a_t) != a*(s_t)]: the learner's action is off the expert's. The expert's cost is 0, so an
  episode's return is -(J(pi) - J(pi*)). Success = centred on every step of the episode.

Theory (Ross & Bagnell): an error on the expert's distribution costs BC every remaining step, so
J_BC ~ eps T^2 / 2; DAgger's learner is trained on the states its own errors reach, comes back in one
step, and pays J ~ eps T. `LaneBatch` steps many episodes at once with the same dynamics (episode i is
`LaneEnv.reset(seed=seeds[i])`, step for step), for benchmarks that need 10^5-10^6 steps per horizon.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

from protege.envs.registry import register, register_resolver
from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

BARRIER = 4
"""|y| at which the barrier stops the car (cells)."""
PUSH = 2
"""Outward push of the road's camber on an off-centre car (cells per step)."""
MAX_STEER = BARRIER + PUSH + 1
"""Largest steering command (cells per step): what the expert needs from the barrier."""
PREVIEW = 8
"""Bends ahead in each frame (the current one first): enough for action chunks of up to 8 steps."""
DEFAULT_HORIZON = 200
DEFAULT_GLARE = 1e-3
MAX_HORIZON = 100_000
FPS = 10.0
PRIVILEGED_KEY = "privileged.bend"
"""The true current bend (1,), for the expert only: outside the spec, so never recorded."""


def road(seed: int, steps: int, glare: float) -> tuple[np.ndarray, np.ndarray]:
    """One episode's road: bends (steps + PREVIEW,) int8 in {-1, 0, 1} and the readings (steps + 1, PREVIEW)
    int8 each frame shows (frame t reads bends t .. t + PREVIEW - 1; a glared frame misreads all of them).

    Drawn from three streams seeded by `seed`, each with `random()`, so a longer episode of the same seed
    starts with the same road and frames (its prefix).
    """
    bends = (np.floor(3 * np.random.default_rng([seed, 0]).random(steps + PREVIEW)) - 1).astype(np.int8)
    glared = np.random.default_rng([seed, 1]).random(steps + 1) < glare
    shift = 1 + (np.random.default_rng([seed, 2]).random((steps + 1, PREVIEW)) < 0.5)
    idx = np.arange(steps + 1)[:, None] + np.arange(PREVIEW)[None, :]
    true = bends[idx].astype(np.int64)
    wrong = (true + 1 + shift) % 3 - 1  # one of the two other values
    readings = np.where(glared[:, None], wrong, true).astype(np.int8)
    return bends, readings


def lane_step(y: np.ndarray, action: np.ndarray, bend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dynamics, for any batch shape: y (cells, int), action (cells, float: rounded, clipped), bend
    (int) -> (y' int64, cost float32 = 1 where y' is off-centre)."""
    y = np.asarray(y, np.int64)
    a = np.rint(np.clip(np.asarray(action, np.float64), -MAX_STEER, MAX_STEER)).astype(np.int64)
    y_next = np.clip(y + a + np.asarray(bend, np.int64) + PUSH * np.sign(y), -BARRIER, BARRIER)
    return y_next, (y_next != 0).astype(np.float32)


def expert_action(y: np.ndarray, bend: np.ndarray) -> np.ndarray:
    """a* = -d - 2 sign(y) - y: back to the centre in one step from anywhere (|a*| <= MAX_STEER)."""
    y = np.asarray(y, np.float64)
    return -np.asarray(bend, np.float64) - PUSH * np.sign(y) - y


class LaneBatch:
    """N lane episodes stepped together. Episode i is exactly `LaneEnv(steps, glare).reset(seed=seeds[i])`
    stepped with the same actions; stepping past `steps` is refused."""

    def __init__(self, seeds: Sequence[int], steps: int, glare: float = DEFAULT_GLARE):
        roads = [road(int(s), steps, glare) for s in seeds]
        self.bends = np.stack([r[0] for r in roads])  # (N, steps + PREVIEW)
        self.readings = np.stack([r[1] for r in roads])  # (N, steps + 1, PREVIEW)
        self.steps = int(steps)
        self.y = np.zeros(len(roads), np.int64)
        self.t = 0

    def __len__(self) -> int:
        return len(self.y)

    def observation(self) -> dict[str, np.ndarray]:
        """{"state": (N, 1 + PREVIEW) float32 = (y, readings), PRIVILEGED_KEY: (N, 1) float32 true bend}."""
        state = np.concatenate([self.y[:, None], self.readings[:, self.t]], axis=1).astype(np.float32)
        return {"state": state, PRIVILEGED_KEY: self.bends[:, self.t, None].astype(np.float32)}

    def step(self, action: np.ndarray) -> np.ndarray:
        """action (N, 1) or (N,) cells -> cost (N,) float32 of this step."""
        if self.t >= self.steps:
            raise ProtegeError(f"lane: expected at most {self.steps} steps (the horizon), found a step past it")
        self.y, cost = lane_step(self.y, np.asarray(action).reshape(len(self.y)), self.bends[:, self.t])
        self.t += 1
        return cost


def batch_rollout(act: Callable[[dict[str, np.ndarray]], np.ndarray], seeds: Sequence[int], steps: int,
                  glare: float = DEFAULT_GLARE) -> np.ndarray:
    """Per-step costs (N, steps) float32 of `act` (obs key -> (N, ...) -> (N, 1) cells, called once per step,
    e.g. a batched `Controller.act`) on the episodes `seeds`, each run for `steps` steps."""
    env = LaneBatch(seeds, steps, glare)
    costs = np.zeros((len(env), steps), np.float32)
    for t in range(steps):
        costs[:, t] = env.step(act(env.observation()))
    return costs


class LaneEnv(gym.Env):
    """One lane episode of `horizon` steps; `info` carries "cost", "centred" and "offset" (y)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, horizon: int = DEFAULT_HORIZON, glare: float = DEFAULT_GLARE, render_mode: str | None = None):
        self.horizon, self.glare, self.render_mode = int(horizon), float(glare), render_mode
        self.observation_space = gym.spaces.Dict({
            "state": gym.spaces.Box(-BARRIER, BARRIER, (1 + PREVIEW,), np.float32),
            PRIVILEGED_KEY: gym.spaces.Box(-1, 1, (1,), np.float32)})
        self.action_space = gym.spaces.Box(-MAX_STEER, MAX_STEER, (1,), np.float32)
        self._batch = LaneBatch([0], self.horizon, self.glare)

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self._batch.observation().items()}

    def _info(self, cost: float = 0.0) -> dict[str, Any]:
        y = int(self._batch.y[0])
        return {"cost": float(cost), "centred": y == 0, "offset": y}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        self._batch = LaneBatch([seed], self.horizon, self.glare)
        return self._obs(), self._info()

    def step(self, action):
        cost = float(self._batch.step(np.asarray(action, np.float64).reshape(1, 1))[0])
        truncated = self._batch.t >= self.horizon
        return self._obs(), -cost, False, truncated, self._info(cost)

    def render(self) -> np.ndarray:
        """A 90 x 90 RGB top view of the road ahead: lane cells as columns, the car at the bottom row, each
        upcoming bend drawn as the road's shift (grey road, white centre, red car)."""
        cells, rows, px = 2 * BARRIER + 1, PREVIEW + 1, 10
        img = np.full((rows * px, cells * px, 3), (60, 140, 60), np.uint8)
        t = self._batch.t
        shift = np.concatenate([[0], np.cumsum(self._batch.bends[0, t:t + PREVIEW])])  # road centre per row
        for r in range(rows):
            c = int(np.clip(BARRIER + shift[r], 0, cells - 1))
            top = (rows - 1 - r) * px
            img[top:top + px, :] = (90, 90, 90)
            img[top:top + px, c * px:(c + 1) * px] = (230, 230, 230)
        c = BARRIER + int(self._batch.y[0])
        img[(rows - 1) * px + 2:rows * px - 2, c * px + 2:(c + 1) * px - 2] = (220, 40, 40)
        return img


class LaneExpert:
    """Reads the true bend (`privileged.bend`) and the offset; steers back to the centre in one step.
    Works on one observation ((1 + PREVIEW,)) or a batch ((N, 1 + PREVIEW)) alike."""

    name = "lane-expert"

    def reset(self) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        state = np.asarray(obs["state"], np.float64)
        bend = np.asarray(obs[PRIVILEGED_KEY], np.float64)
        return expert_action(state[..., :1], bend).astype(np.float32)


_OPTION_NAME = re.compile(r"^lane\[(?P<opts>[^\[\]]*)\]$")


def lane_task_name(horizon: int = DEFAULT_HORIZON, glare: float = DEFAULT_GLARE) -> str:
    """The registry name of a lane task: `lane[T=500]`, `lane[T=500,glare=0.002]`."""
    return f"lane[T={int(horizon)}]" if glare == DEFAULT_GLARE else f"lane[T={int(horizon)},glare={glare:g}]"


def parse_lane_options(name: str) -> tuple[int, float] | None:
    """'lane[T=500,glare=0.002]' -> (500, 0.002); None for a name that is not a lane task with options.
    A bad option is refused in one line naming it."""
    m = _OPTION_NAME.match(name)
    if m is None:
        return None
    horizon, glare = DEFAULT_HORIZON, DEFAULT_GLARE
    for part in filter(None, (p.strip() for p in m["opts"].split(","))):
        key, _, value = part.partition("=")
        if key == "T":
            if not re.fullmatch(r"\d+", value) or not 1 <= int(value) <= MAX_HORIZON:
                raise ProtegeError(f"task {name}: option 'T': expected an integer in [1, {MAX_HORIZON}], found '{value}'")
            horizon = int(value)
        elif key == "glare":
            try:
                glare = float(value)
            except ValueError:
                glare = -1.0
            if not 0 <= glare < 0.5:
                raise ProtegeError(f"task {name}: option 'glare': expected a probability in [0, 0.5), found '{value}'")
        else:
            raise ProtegeError(f"task {name}: expected options T=<steps> and glare=<probability>, found '{part}'")
    return horizon, glare


def make_lane_task(horizon: int = DEFAULT_HORIZON, glare: float = DEFAULT_GLARE, name: str | None = None) -> Task:
    spec = Spec(observation={"state": ArraySpec((1 + PREVIEW,))},
                action=ArraySpec((1,), low=[-float(MAX_STEER)], high=[float(MAX_STEER)]), fps=FPS)
    return Task(name=name or lane_task_name(horizon, glare),
                make_env=lambda render_mode=None: LaneEnv(horizon, glare, render_mode=render_mode),
                make_expert=LaneExpert, step_success=lambda info: bool(info.get("centred", False)),
                horizon=int(horizon), fps=FPS, spec=spec, stop_on_success=False, success_window=int(horizon),
                description=f"car on a lane-cell grid, expert stays centred, 0-1 cost off-centre; "
                            f"lane[T=<steps>,glare=<p>] (T={horizon}, glare={glare:g})")


def _resolve(name: str) -> Task | None:
    options = parse_lane_options(name)
    return None if options is None else make_lane_task(*options, name=name)


register("lane", lambda: make_lane_task(name="lane"))
register_resolver(_resolve)
