"""`bimodal`: a point robot must pass an obstacle that sits directly between it and the goal.

Isolates multimodal demonstrations. The robot starts at (0, y0) with y0 uniform in [-1.1, -0.9], the goal
is at (0, 1) and a disc obstacle of radius 0.35 sits at (0, 0), exactly between them. The expert drives
straight at the obstacle, then, 0.25 m before it, goes around the left or the right at random, 50/50,
drawn at each reset from its own generator. Nothing in the observation tells the sides apart: every
demonstration passes through the same states on the approach (x = 0, all y) and then splits. A
regression head averages the two swerves into "straight on" and drives into the obstacle; a head that
models the distribution picks a side. (The start varies only along the approach line on purpose: a
start that varied sideways would identify each demonstration, and a network can memorise start -> side,
which hides the multimodality this task is for.)

The layout is tuned so that the two failure kinds are told apart: the expert's path clears the obstacle
by about 9 cm (a head that picks a side a step late, or a little off, still gets round), while a
regression head that hesitates on the approach line for a few steps before drifting to one side hits it.
With a 7 cm clearance and a 0.1 m goal, the distributional heads lost episodes to plain imprecision (a
sampled mixture component of slightly wrong angle, a goal passed just outside 0.1 m); with a 12 cm
clearance, a late, drifting regression head escaped to one side too often to show the averaging.

- observation: {"state": (2,) float32} = robot (x, y), metres;
- action: (2,) velocity command in [-1, 1] m/s, executed for dt = 0.1 s (10 Hz), clipped to unit speed;
- success: within 0.15 m of the goal without ever touching the obstacle (touching ends the episode);
- horizon: 60 steps (the expert needs about 30).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.registry import register
from protege.envs.task import Task
from protege.specs import ArraySpec, Spec

OBSTACLE_RADIUS = 0.35
GOAL_RADIUS = 0.15
DT = 0.1
HORIZON = 60
SIDE_OFFSET = 0.65  # the expert's waypoint beside the obstacle, metres from its centre
SWERVE_Y = -0.6  # where the expert leaves the approach line (0.25 m before the obstacle)
GOAL = np.array([0.0, 1.0])
OBSTACLE = np.array([0.0, 0.0])


class BimodalEnv(gym.Env):
    """The point robot; `info` carries "success", "collision" and the obstacle centre."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Dict({"state": gym.spaces.Box(-3, 3, (2,), np.float32)})
        self.action_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)
        self.obstacle = np.zeros(2)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"state": self.pos.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        collision = bool(np.linalg.norm(self.pos - self.obstacle) < OBSTACLE_RADIUS)
        success = bool(np.linalg.norm(self.pos - self.goal) < GOAL_RADIUS) and not collision
        return {"success": success, "collision": collision, "obstacle": self.obstacle.copy()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self.pos = np.array([0.0, rng.uniform(-1.1, -0.9)])
        self.goal = GOAL.copy()
        self.obstacle = OBSTACLE.copy()
        return self._obs(), self._info()

    def step(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(2), -1, 1)
        speed = np.linalg.norm(a)
        if speed > 1:
            a = a / speed
        self.pos = self.pos + DT * a
        info = self._info()
        reward = -float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), reward, info["collision"] or info["success"], False, info

    def render(self) -> np.ndarray:
        """A 160 x 160 RGB top view: obstacle grey, goal green, robot blue."""
        n = 160
        ys, xs = np.mgrid[0:n, 0:n]
        px, py = xs / n * 3 - 1.5, 1.5 - ys / n * 3  # pixel -> metres (x right, y up)
        img = np.full((n, n, 3), 255, np.uint8)
        for centre, radius, colour in ((self.obstacle, OBSTACLE_RADIUS, (150, 150, 150)),
                                       (self.goal, GOAL_RADIUS, (40, 170, 60)), (self.pos, 0.05, (40, 80, 220))):
            img[(px - centre[0]) ** 2 + (py - centre[1]) ** 2 < radius**2] = colour
        return img


class BimodalExpert:
    """Straight at the obstacle, then around the left or the right (50/50 per episode), at unit speed.

    The side is drawn at `reset()` from the expert's own generator (seeded at construction), so a recording
    is reproducible and the side is independent of the observation.
    """

    def __init__(self, seed: int = 0):
        self.name = "bimodal-expert"
        self._rng = np.random.default_rng(seed)
        self.side = 1.0
        self._stage = 0

    def reset(self) -> None:
        self.side = float(self._rng.choice([-1.0, 1.0]))
        self._stage = 0

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        pos = np.asarray(obs["state"], np.float64)[:2]
        beside = OBSTACLE + np.array([self.side * SIDE_OFFSET, 0.0])
        if self._stage == 0 and pos[1] >= SWERVE_Y - 1e-9:
            self._stage = 1
        if self._stage == 1 and (np.linalg.norm(beside - pos) < 0.15 or pos[1] >= OBSTACLE[1]):
            self._stage = 2
        waypoint = [np.array([0.0, SWERVE_Y]), beside, GOAL][self._stage]
        d = waypoint - pos
        dist = np.linalg.norm(d)
        if self._stage == 0:  # the approach: full speed, never stopping short of the swerve point
            return np.array([0.0, 1.0], np.float32)
        return (d / max(dist, 1e-9) * min(1.0, dist / DT)).astype(np.float32)


def _make() -> Task:
    spec = Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((2,), low=[-1.0, -1.0], high=[1.0, 1.0]),
                fps=1 / DT)
    return Task(name="bimodal", make_env=lambda render_mode=None: BimodalEnv(render_mode=render_mode),
                make_expert=BimodalExpert, step_success=lambda info: bool(info.get("success", False)),
                horizon=HORIZON, fps=1 / DT, spec=spec, stop_on_success=True,
                description="point robot, obstacle between start and goal, expert goes left or right 50/50")


register("bimodal", _make)
