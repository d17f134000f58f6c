"""Kinesthetic teaching: a person moves the robot by hand, the robot records only what it observes.

No command exists for a motion the person made, so the actions are inferred from the observed states
with an inverse model fitted once per robot: `calibrate` commands smooth random motions, observes what
they do, and fits a ridge regression from (state, state changes at a few lags) to the commanded action.
The same model then turns a hand-guided trajectory into (state, action) pairs a policy can learn from.

In simulation a scripted "hand" (any Actor, typically the task's expert) stands in for the person: it
moves the robot, and only the observations are kept; its own actions are never written, so tests can
compare them with what was inferred.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import numpy as np

from protege.actor import Actor
from protege.data.episode import SOURCE_HUMAN, Episode
from protege.data.native import DatasetWriter
from protege.envs.task import Task
from protege.evaluation.rollout import record_seeds
from protege.progress import Progress, bar

LAGS = (-1, 0, 1, 2)
"""State changes used as features: s[t+L+1] - s[t+L] for each L (a hand-guided arm lags its target)."""


def _state_dims(task: Task) -> list[int]:
    # Meta-World: hand position (3) and gripper opening (1) carry the commanded motion; the rest of the
    # 39-D state (objects, goal) would only let the regression overfit.
    if task.name.startswith(("metaworld/", "metaworld-vision/")):  # vision: state[0:4] is the hand too
        return [0, 1, 2, 3]
    return list(range(task.spec.observation["state"].size))


def features(states: np.ndarray, dims: list[int]) -> np.ndarray:
    """states (T+1, D) -> (T, F): state, state changes at LAGS (clamped at the ends), bias."""
    s = np.asarray(states, np.float64)[:, dims]
    d = np.diff(s, axis=0)
    T = len(d)
    cols = [s[:-1]] + [d[np.clip(np.arange(T) + lag, 0, T - 1)] for lag in LAGS] + [np.ones((T, 1))]
    return np.hstack(cols)


@dataclass
class InverseModel:
    """Linear map from state features to action; `infer(states (T+1, D)) -> actions (T, A)`, clipped."""

    dims: list[int]
    weights: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def infer(self, states: np.ndarray) -> np.ndarray:
        return np.clip(features(states, self.dims) @ self.weights, self.low, self.high).astype(np.float32)


def calibrate(task: Task, episodes: int = 20, steps: int = 150, seed: int = 0, ridge: float = 1e-6) -> InverseModel:
    """Command smooth random motions (a first-order filter of uniform noise) and fit the inverse model."""
    rng = np.random.default_rng(seed)
    low = np.asarray(task.spec.action.low, np.float64)
    high = np.asarray(task.spec.action.high, np.float64)
    dims = _state_dims(task)
    env = task.make_env()
    X, Y = [], []
    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed * 10_000 + 500_000 + ep)  # away from recording and eval seeds
            states, actions = [obs["state"]], []
            a = (low + high) / 2
            for t in range(1, steps + 1):
                # 3x the range then clipped: the filtered command reaches the bounds often enough to be fitted
                a = np.clip(0.9 * a + 0.1 * 3 * rng.uniform(low, high), low, high)
                obs, _, terminated, truncated, _ = env.step(a.astype(np.float32))
                states.append(obs["state"])
                actions.append(a.copy())
                if task.episode_done(t, terminated, truncated, success=False):  # exploration: success does not end it
                    break
            X.append(features(np.stack(states), dims))
            Y.append(np.stack(actions))
    finally:
        env.close()
    X, Y = np.vstack(X), np.vstack(Y)
    # Fit, then refit without the worst 10% of residuals: steps where the robot hit a limit (joint
    # speed, workspace edge, a blocked gripper) do not follow the commanded motion and would bias the fit.
    keep = np.ones(len(X), bool)
    for _ in range(2):
        Xk, Yk = X[keep], Y[keep]
        W = np.linalg.solve(Xk.T @ Xk + ridge * np.eye(X.shape[1]), Xk.T @ Yk)
        residual = np.abs(X @ W - Y).max(axis=1)
        keep = residual <= np.quantile(residual, 0.9)
    return InverseModel(dims=dims, weights=W, low=low, high=high)


def guide_by_hand(task: Task, hand: Actor, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The hand moves the robot for one episode: returns (observed states (T+1, D), the hand's hidden
    actions (T, A), success)."""
    env = task.make_env()
    try:
        obs, _ = env.reset(seed=seed)
        hand.reset()
        states, hidden, ok = [obs["state"]], [], []
        for t in count(1):
            a = np.asarray(hand.act(obs), np.float32)
            obs, _, terminated, truncated, info = env.step(a)
            states.append(obs["state"])
            hidden.append(a)
            ok.append(task.step_success(info))
            if task.episode_done(t, terminated, truncated, ok[-1]):
                break
    finally:
        env.close()
    return np.stack(states), np.stack(hidden), task.episode_success(ok)


def record_kinesthetic(task: Task, hand: Actor, episodes: int, out: str | Path, seed: int = 0,
                       model: InverseModel | None = None, overwrite: bool = False,
                       progress: Progress | None = None) -> Path:
    """Record `episodes` hand-guided episodes with inferred actions (source = human) into a dataset."""
    model = model or calibrate(task, seed=seed)
    provenance = {"command": shlex.join(["protege", *sys.argv[1:]]) if sys.argv else None,
                  "kinesthetic": True, "hand": getattr(hand, "name", type(hand).__name__), "seed": seed,
                  "inverse_model": {"dims": model.dims, "lags": list(LAGS)}}
    pbar = bar(progress, f"kinesthetic {task.name}", episodes, unit="ep")
    try:
        with DatasetWriter(out, task.spec, task=task.name, provenance=provenance, overwrite=overwrite) as writer:
            for s in record_seeds(seed, episodes):
                states, _, success = guide_by_hand(task, hand, s)
                actions = model.infer(states)
                writer.add(Episode(observations={"state": states}, actions=actions, success=success,
                                   source=np.full(len(actions), SOURCE_HUMAN, np.uint8),
                                   info={"seed": int(s), "task": task.name, "kinesthetic": True}))
                pbar.update(1)
    finally:
        pbar.close()
    return Path(out)
