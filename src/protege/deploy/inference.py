"""From observations to the next action at control rate: predictors around the one controller.

A *predictor* maps the observation history (key -> (B, n_obs, ...) raw) and the noise of a sampling head
to an action chunk (B, H, A) in env units, and states how the checkpoint executes (`settings`, from its
config or the exported file's metadata): `TorchPredictor` runs a policy module, `ExportedPredictor` an
ONNX/TorchScript file (no policy code needed). A task- or instruction-conditioned policy is told what to
do when its predictor is built (`task=` or `instruction=`, mapped through the policy's vocabulary; an
unknown task is refused there, in one line); the predictor adds that condition to every prediction, so
the robot's observations stay the robot's. The `ChunkExecutor` runs the same `Controller` that
`protege eval` runs (history, receding-horizon queue or temporal ensemble, noise and held draws):

- synchronous (the default): exactly eval's actions; a step that needs a new chunk waits for it;
- asynchronous (opt-in, receding horizon only): inference for the next chunk starts on a background
  thread while the current chunk executes, early enough that it is ready before the queue runs out (a
  margin from the measured inference time). What changes against eval: each chunk is predicted from the
  observation `margin` steps before the previous chunk runs out (not at the step it starts), its actions
  for steps already gone by are dropped, and if a queue runs dry the last action is held (a starved step)
  instead of waiting. The loop never waits; the actions are no longer eval's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from protege.controller import Controller, ExecutionSettings, Normal, observation_array, seeded_normal
from protege.errors import ProtegeError
from protege.vocabulary import CONDITION_KEY, ConditionInput


class Predictor(Protocol):
    obs_keys: list[str]
    """The robot's observation keys the predictor reads (never the condition, which it adds itself)."""
    settings: ExecutionSettings
    normal: Normal | None
    name: str

    def predict(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        """key -> (B, n_obs, ...) raw, noise (B, *noise_shape) or None  ->  (B, H, A) env units."""


def _with_condition(history: dict[str, np.ndarray], condition: ConditionInput | None) -> dict[str, np.ndarray]:
    """history key -> (B, n_obs, ...) plus the episode's condition repeated over batch and history, as the
    controller would have stacked it (ids as float32, exact; the graph or the policy casts them back)."""
    if condition is None:
        return history
    b, n = next(iter(history.values())).shape[:2]
    one = observation_array(condition.array)
    return {**history, CONDITION_KEY: np.broadcast_to(one, (b, n, *one.shape)).copy()}


class TorchPredictor:
    """A policy module (e.g. from `load_checkpoint`) as a predictor; `threads` caps torch's CPU threads;
    sampling heads draw their noise from `seed` (torch's generator: the numbers eval draws for an episode
    with that seed). task / instruction: what a conditioned policy is asked to do (ignored by a single-task
    policy; a conditioned one given neither is refused in one line)."""

    def __init__(self, policy: Any, threads: int = 1, seed: int = 0, task: str | None = None,
                 instruction: str | None = None):
        import torch

        torch.set_num_threads(threads)
        self._torch = torch
        self.policy = policy.eval()
        self.condition: ConditionInput | None = policy.condition_input(task, instruction, who=f"policy {policy.name}")
        self.obs_keys = [k for k in policy.obs_keys if k != CONDITION_KEY]
        self.settings: ExecutionSettings = policy.execution_settings()
        self.normal = seeded_normal(seed)
        self.name = f"torch:{policy.name}"

    def predict(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        with self._torch.inference_mode():
            return self.policy.predict_numpy(_with_condition(history, self.condition), noise)


class ExportedPredictor:
    """An exported file (`protege export`) as a predictor; sampling heads get their noise from `seed`.
    task / instruction: what a conditioned export is asked to do, mapped through the vocabulary in the file
    (ignored by a single-task export; a conditioned one given neither is refused in one line)."""

    def __init__(self, model: Any, seed: int = 0, task: str | None = None, instruction: str | None = None):
        self.model = model
        meta = model.meta
        self.condition: ConditionInput | None = model.condition_input(task, instruction)
        self.obs_keys = model.observation_keys
        self.settings = ExecutionSettings.from_dict(meta.get("execution"), model.path)
        self.normal = seeded_normal(seed)
        self.name = f"{model.kind}:{meta['policy']}"

    def predict(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        flat = [] if noise is None else [np.ascontiguousarray(noise, np.float32).reshape(-1)]
        return self.model.run(_with_condition(history, self.condition), flat)


class ChunkExecutor:
    """The controller over a predictor, one observation (no batch) at a time: `act(obs) -> (A,)`.

    asynchronous: predict the next chunk on a background thread (receding horizon only; default off).
    period_s: the control period, used to start background inference early enough.
    """

    def __init__(self, predictor: Predictor, asynchronous: bool | None = None, period_s: float = 0.02):
        self.predictor = predictor
        self.settings = predictor.settings
        self.asynchronous = bool(asynchronous)
        if self.asynchronous and self.settings.execution != "receding":
            raise ProtegeError(f"deploy: --asynchronous needs receding-horizon execution; {predictor.name} "
                               f"executes with '{self.settings.execution}' (a prediction every step)")
        self.period_s = period_s
        self.execute = self.settings.n_action_steps
        self.inference_s: list[float] = []
        self.starved = 0
        self.controller = Controller(self.settings, self._timed_predict, predictor.obs_keys, predictor.normal)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="protege-inference") if self.asynchronous else None
        if self._pool is not None:  # start the thread now, so it does not inherit a real-time loop's priority
            self._pool.submit(lambda: None).result()
        self.reset()

    def reset(self) -> None:
        self.controller.reset()
        self._queue: deque[np.ndarray] = deque()
        self._job: Future | None = None
        self._job_step = 0
        self._step = 0
        self._last: np.ndarray | None = None
        self._primed: np.ndarray | None = None

    def _timed_predict(self, history: dict[str, np.ndarray], noise: np.ndarray | None) -> np.ndarray:
        t0 = time.perf_counter()
        chunk = np.asarray(self.predictor.predict(history, noise), np.float32)
        self.inference_s.append(time.perf_counter() - t0)
        return chunk

    # --- acting -------------------------------------------------------------------------------
    def prime(self, obs: dict[str, np.ndarray]) -> None:
        """Act on the first observation before the clock starts (the first inference is often the slowest);
        the next `act` returns that action without observing again."""
        self._primed = self._act(obs)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self._primed is not None:
            action, self._primed = self._primed, None
            return action
        self._step += 1
        return self._act(obs)

    def _act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        batched = {k: observation_array(obs[k])[None] for k in self.predictor.obs_keys}
        if not self.asynchronous:
            return self.controller.act(batched)[0]
        history = self.controller.observe(batched)
        if self._last is None and not self._queue:  # the very first chunk must be waited for
            self._queue = deque(self.controller.predict(history)[0, :self.execute])
        else:
            if self._job is not None and self._job.done():
                chunk = self._job.result()[0]
                elapsed = self._step - self._job_step
                # normally execute up to `execute`; if inference took longer than that, the rest of the
                # chunk is still a better plan than holding the last action
                fresh = chunk[elapsed:self.execute if elapsed < self.execute else None]
                if len(fresh):
                    self._queue = deque(fresh)
                self._job = None
            if self._job is None and len(self._queue) <= self._margin():
                assert self._pool is not None  # the noise is drawn here, on the loop thread, in step order
                self._job = self._pool.submit(self._timed_predict, history, self.controller.noise(1))
                self._job_step = self._step
        if self._queue:
            self._last = self._queue.popleft()
        else:
            self.starved += 1
        assert self._last is not None
        return self._last

    def _margin(self) -> int:
        """Steps of queue left when the next inference starts: the slowest of the last 20 inferences,
        in periods, plus one (on a busy machine the tail, not the median, decides whether a chunk is late)."""
        recent = self.inference_s[-20:]
        latency = max(recent) if recent else self.period_s
        return max(2, math.ceil(latency / self.period_s) + 1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
