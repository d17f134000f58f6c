"""From observations to the next action at control rate: predictors and the chunk executor.

A *predictor* maps the observation history (key -> (1, n_obs, ...) raw) to an action chunk (H, A) in env
units: `TorchPredictor` runs a policy module, `ExportedPredictor` an ONNX/TorchScript file (no policy
code needed). The `ChunkExecutor` owns the history and the queue of actions still to execute:

- synchronous: when the queue is empty, predict (the step waits for it) and queue the first
  `execute_steps` actions; for single-step heads this is one inference per step;
- asynchronous (chunking heads): inference for the next chunk starts on a background thread while the
  current chunk executes, early enough that it is ready before the queue runs out (a margin from the
  measured inference time). When it arrives, its actions for steps already gone by are dropped. If a
  queue ever runs dry the last action is held and the step is counted as starved: the loop never waits.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np


class Predictor(Protocol):
    obs_keys: list[str]
    n_obs: int
    horizon: int
    execute_steps: int
    """Actions of each chunk to execute before predicting again (<= horizon)."""

    def predict(self, history: dict[str, np.ndarray]) -> np.ndarray:
        """key -> (1, n_obs, ...) raw  ->  (H, A) env units."""


class TorchPredictor:
    """A policy module (e.g. from `load_checkpoint`) as a predictor; `threads` caps torch's CPU threads."""

    def __init__(self, policy: Any, threads: int = 1):
        import torch

        torch.set_num_threads(threads)
        self._torch = torch
        self.policy = policy.eval()
        self.obs_keys = list(policy.obs_keys)
        self.n_obs, self.horizon = int(policy.n_obs), int(policy.horizon)
        self.execute_steps = _execute_steps(vars(policy.config), self.horizon)
        self.name = f"torch:{policy.name}"

    def predict(self, history: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            obs = {k: torch.from_numpy(history[k]) for k in self.obs_keys}
            return self.policy.predict_chunk(obs)[0].numpy()


class ExportedPredictor:
    """An exported file (`protege export`) as a predictor; sampling heads get their noise from `seed`."""

    def __init__(self, model: Any, seed: int = 0):
        self.model = model
        meta = model.meta
        self.obs_keys = list(meta["obs_keys"])
        self.n_obs, self.horizon = int(meta["n_obs"]), int(meta["horizon"])
        self.execute_steps = _execute_steps(meta.get("checkpoint_policy_config") or {}, self.horizon)
        self._noise = [(kind, n) for kind, n in meta["noise"].items() if n]
        self._rng = np.random.default_rng(seed)
        self.name = f"{model.kind}:{meta['policy']}"

    def predict(self, history: dict[str, np.ndarray]) -> np.ndarray:
        noise = [self._rng.standard_normal(n).astype(np.float32) if kind.endswith("normal")
                 else self._rng.uniform(size=n).astype(np.float32) for kind, n in self._noise]
        return self.model.run(history, noise)[0]


def _execute_steps(config: dict, horizon: int) -> int:
    # Chunking heads name it differently; any of these means "execute this many, then replan".
    for key in ("n_action_steps", "execute_steps", "action_steps"):
        if isinstance(config.get(key), int) and 0 < config[key] <= horizon:
            return int(config[key])
    return horizon


class ChunkExecutor:
    """Observation history + action queue over a predictor; `act(obs) -> (A,)` every control step.

    asynchronous: predict the next chunk on a background thread (None = when the head predicts chunks).
    period_s: the control period, used to start background inference early enough.
    """

    def __init__(self, predictor: Predictor, asynchronous: bool | None = None, period_s: float = 0.02):
        self.predictor = predictor
        self.asynchronous = predictor.horizon > 1 if asynchronous is None else asynchronous
        self.period_s = period_s
        self.execute = max(1, min(predictor.execute_steps, predictor.horizon))
        self.inference_s: list[float] = []
        self.starved = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="protege-inference") if self.asynchronous else None
        if self._pool is not None:  # start the thread now, so it does not inherit a real-time loop's priority
            self._pool.submit(lambda: None).result()
        self.reset()

    def reset(self) -> None:
        self._history: deque[dict[str, np.ndarray]] = deque(maxlen=self.predictor.n_obs)
        self._queue: deque[np.ndarray] = deque()
        self._job: Future | None = None
        self._job_step = 0
        self._step = 0
        self._last: np.ndarray | None = None

    # --- history ------------------------------------------------------------------------------
    def _push(self, obs: dict[str, np.ndarray]) -> None:
        self._history.append({k: np.asarray(obs[k], np.float32) for k in self.predictor.obs_keys})
        while len(self._history) < self.predictor.n_obs:  # repeat the first observation, as in training
            self._history.appendleft(self._history[0])

    def _stacked(self) -> dict[str, np.ndarray]:
        return {k: np.stack([h[k] for h in self._history])[None] for k in self.predictor.obs_keys}

    def _timed_predict(self, history: dict[str, np.ndarray]) -> np.ndarray:
        t0 = time.perf_counter()
        chunk = np.asarray(self.predictor.predict(history), np.float32)
        self.inference_s.append(time.perf_counter() - t0)
        return chunk

    # --- acting -------------------------------------------------------------------------------
    def prime(self, obs: dict[str, np.ndarray]) -> None:
        """Predict the first chunk before the clock starts (the first inference is often the slowest)."""
        self._push(obs)
        self._queue = deque(self._timed_predict(self._stacked())[:self.execute])
        self._primed = True

    def _margin(self) -> int:
        """Steps of queue left when the next inference starts: the slowest of the last 20 inferences,
        in periods, plus one (on a busy machine the tail, not the median, decides whether a chunk is late)."""
        recent = self.inference_s[-20:]
        latency = max(recent) if recent else self.period_s
        return max(2, math.ceil(latency / self.period_s) + 1)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if getattr(self, "_primed", False):
            self._primed = False  # prime() already consumed this observation
        else:
            self._step += 1
            self._push(obs)
        if not self.asynchronous:
            if not self._queue:
                self._queue = deque(self._timed_predict(self._stacked())[:self.execute])
        elif self._last is None and not self._queue:  # not primed: the very first chunk must be waited for
            self._queue = deque(self._timed_predict(self._stacked())[:self.execute])
        else:
            if self._job is not None and self._job.done():
                chunk = self._job.result()
                elapsed = self._step - self._job_step
                # normally execute up to `execute`; if inference took longer than that, the rest of the
                # chunk is still a better plan than holding the last action
                fresh = chunk[elapsed:self.execute if elapsed < self.execute else None]
                if len(fresh):
                    self._queue = deque(fresh)
                self._job = None
            if self._job is None and len(self._queue) <= self._margin():
                assert self._pool is not None
                self._job, self._job_step = self._pool.submit(self._timed_predict, self._stacked()), self._step
        if self._queue:
            self._last = self._queue.popleft()
        else:
            self.starved += 1
        assert self._last is not None
        return self._last

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
