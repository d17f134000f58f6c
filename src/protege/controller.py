"""One controller: how a checkpoint turns observations into one action per step, wherever it runs.

The thing that predicts chunks (a torch policy's `predict_chunk`, or an exported ONNX/TorchScript graph)
is separate from the execution strategy, which lives here once and runs beside either:

- observation history: the last `n_obs` observations, the first one repeated at episode start (as the
  training windows do);
- receding horizon (`ActionQueue`): execute the first `n_action_steps` actions of a chunk, then predict;
- temporal ensembling (`TemporalEnsembler`, ACT): predict every step and blend every live chunk's action
  for the current step with weights exp(-m * i), i = 0 the oldest chunk;
- noise for sampling heads: a standard-normal draw of `noise_shape` per prediction; channels listed in
  `held` (on the draw's last axis, e.g. the gmm head's component pick) are drawn once per episode and
  reused, so the policy stays in the mode it picked.

`protege eval` (through `PolicyBase.select_action`) and `protege deploy` (through `ChunkExecutor`) both
run a `Controller`; the settings come from the checkpoint's config (`PolicyBase.execution_settings`) or
an exported file's metadata, never from guessing. Works on numpy arrays and imports no torch, so a robot
computer with only onnxruntime can run it; where torch is installed its generator and its reduction are
used, so eval and deploy agree bit for bit (numpy's summation order differs by float32 rounding).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from protege.errors import ProtegeError, bad_input

EXECUTIONS = ("receding", "ensemble")

Chunk = np.ndarray
"""(B, H, A) actions in env units."""
Predict = Callable[[dict[str, np.ndarray], "np.ndarray | None"], np.ndarray]
"""(history key -> (B, n_obs, ...) raw, noise (B, *noise_shape) or None) -> (B, H, A) env units."""
Normal = Callable[[tuple[int, ...]], np.ndarray]
"""shape -> float32 standard-normal draws of that shape."""


@dataclass(frozen=True)
class ExecutionSettings:
    """How a checkpoint executes; saved in exported models' metadata (`execution`)."""

    n_obs: int = 1
    horizon: int = 1
    execution: str = "receding"
    n_action_steps: int = 1
    ensemble_m: float = 0.0
    noise_shape: tuple[int, ...] | None = None
    """Per-sample shape of the standard-normal draw one prediction takes (None: the head does not sample)."""
    held: tuple[int, ...] = field(default=())
    """Indices on the noise's last axis drawn once per episode (held draws)."""

    def __post_init__(self) -> None:
        self.check("execution settings")

    def check(self, source: Any) -> None:
        def need(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise bad_input(source, name, expected, repr(getattr(self, name)))

        need(self.n_obs >= 1, "n_obs", ">= 1")
        need(self.horizon >= 1, "horizon", ">= 1")
        need(self.execution in EXECUTIONS, "execution", f"one of {EXECUTIONS}")
        need(1 <= self.n_action_steps <= self.horizon, "n_action_steps", f"in [1, horizon={self.horizon}]")
        need(self.ensemble_m >= 0, "ensemble_m", ">= 0")
        dims = self.noise_shape[-1] if self.noise_shape else 0
        need(all(0 <= i < dims for i in self.held), "held", f"indices into the noise's last axis (< {dims})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, source: Any) -> "ExecutionSettings":
        """Settings from exported metadata; a missing or malformed entry is a one-line error."""
        if not isinstance(d, dict):
            raise bad_input(source, "execution", "execution settings (re-export with this version)", repr(d))
        try:
            shape = d.get("noise_shape")
            return cls(n_obs=int(d["n_obs"]), horizon=int(d["horizon"]), execution=str(d["execution"]),
                       n_action_steps=int(d["n_action_steps"]), ensemble_m=float(d["ensemble_m"]),
                       noise_shape=None if shape is None else tuple(int(s) for s in shape),
                       held=tuple(int(i) for i in d.get("held", ())))
        except ProtegeError as e:  # a value out of range: name the file it came from
            raise ProtegeError(f"{source}: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise bad_input(source, "execution", "complete execution settings", f"{type(e).__name__}: {e}") from None


# --- strategies ---------------------------------------------------------------------------------
class Strategy(Protocol):
    def step(self, predict: Callable[[], Chunk]) -> np.ndarray:
        """Action (B, A) for the current step; calls `predict()` -> (B, H, A) when it needs a new chunk."""

    def reset(self) -> None:
        """Forget queued actions and live chunks."""


class ActionQueue:
    """Receding horizon: execute the first `n_action_steps` actions of a chunk, then predict again."""

    def __init__(self, n_action_steps: int):
        if n_action_steps < 1:
            raise bad_input(None, "n_action_steps", ">= 1", repr(n_action_steps))
        self.n_action_steps = int(n_action_steps)
        self._queue: deque[np.ndarray] = deque()

    def step(self, predict: Callable[[], Chunk]) -> np.ndarray:
        if not self._queue:
            chunk = predict()
            if chunk.shape[1] < self.n_action_steps:
                raise ProtegeError(f"predicted chunk of {chunk.shape[1]} steps is shorter than n_action_steps="
                                   f"{self.n_action_steps}")
            self._queue.extend(chunk[:, i] for i in range(self.n_action_steps))
        return self._queue.popleft()

    def reset(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)


class TemporalEnsembler:
    """Temporal ensembling: blend every live chunk's prediction for the current step.

    A chunk predicted k steps ago (k < H) predicts the current step with its entry k. With live chunks
    ordered oldest first (i = 0, 1, ...), the executed action is sum_i w_i a_i / sum_i w_i, w_i = exp(-m i).
    """

    def __init__(self, m: float, horizon: int):
        if m < 0:
            raise bad_input(None, "ensemble_m", ">= 0", repr(m))
        self.m, self.horizon = float(m), int(horizon)
        self._chunks: deque[np.ndarray] = deque(maxlen=self.horizon)  # oldest first

    def weights(self, n: int) -> np.ndarray:
        """Normalised weights (n,) float32 for n live chunks, oldest first (computed in float64)."""
        w = np.exp(-self.m * np.arange(n, dtype=np.float64))
        return (w / w.sum()).astype(np.float32)

    def step(self, predict: Callable[[], Chunk]) -> np.ndarray:
        chunk = predict()
        if chunk.shape[1] != self.horizon:
            raise ProtegeError(f"expected predicted chunks of {self.horizon} steps, got {chunk.shape[1]}")
        self._chunks.append(chunk)  # a chunk older than H steps has nothing left for now: maxlen drops it
        n = len(self._chunks)
        preds = np.stack([c[:, n - 1 - i] for i, c in enumerate(self._chunks)], axis=1)  # (B, n, A)
        return _weighted_sum(preds, self.weights(n))

    def reset(self) -> None:
        self._chunks.clear()

    def __len__(self) -> int:
        return len(self._chunks)


def _weighted_sum(preds: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_i preds[:, i] * w[i]: (B, n, A), (n,) -> (B, A) float32, in torch's summation order when torch
    is installed (what eval has always computed), else numpy's (equal up to float32 rounding)."""
    torch = _torch()
    if torch is None:
        return (preds * w[None, :, None]).sum(1)
    return (torch.from_numpy(preds) * torch.from_numpy(w)[None, :, None]).sum(1).numpy()


def make_strategy(settings: ExecutionSettings) -> Strategy:
    """The strategy the settings name: "receding" (ActionQueue) or "ensemble" (TemporalEnsembler)."""
    if settings.execution == "receding":
        return ActionQueue(settings.n_action_steps)
    return TemporalEnsembler(settings.ensemble_m, settings.horizon)


# --- noise --------------------------------------------------------------------------------------
def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def seeded_normal(seed: int) -> Normal:
    """Standard-normal draws from `seed`: torch's CPU generator where torch is installed (the numbers
    `protege eval` draws after `torch.manual_seed(seed)`), else numpy's (same distribution, other numbers)."""
    torch = _torch()
    if torch is None:
        rng = np.random.default_rng(seed)
        return lambda shape: rng.standard_normal(shape, dtype=np.float32)
    gen = torch.Generator().manual_seed(int(seed))
    return lambda shape: torch.randn(shape, generator=gen).numpy()


# --- the controller -----------------------------------------------------------------------------
def observation_array(x: Any) -> np.ndarray:
    """One observation as the predictor takes it: camera frames stay uint8 (4x less to copy than float;
    the encoder scales them), everything else float32."""
    a = np.asarray(x)
    return a if a.dtype == np.uint8 else a.astype(np.float32, copy=False)


class Controller:
    """History + noise + strategy around a `predict` function; `act(obs) -> (B, A)` every step.

    obs_keys: the observation keys the predictor reads; normal: where noise comes from (sampling heads).
    """

    def __init__(self, settings: ExecutionSettings, predict: Predict, obs_keys: list[str],
                 normal: Normal | None = None):
        if settings.noise_shape is not None and normal is None:
            raise ProtegeError("controller: a sampling head needs a noise source")
        self.settings, self.obs_keys = settings, list(obs_keys)
        self.strategy: Strategy = make_strategy(settings)
        self._predict, self.normal = predict, normal
        self._history: deque[dict[str, np.ndarray]] = deque(maxlen=settings.n_obs)
        self._held: np.ndarray | None = None

    def reset(self) -> None:
        """Episode start: forget the history, queued actions, live chunks and held draws."""
        self._history.clear()
        self.strategy.reset()
        self._held = None

    def observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add obs key -> (B, ...) raw; returns the history key -> (B, n_obs, ...) float32, oldest first."""
        self._history.append({k: observation_array(obs[k]) for k in self.obs_keys})
        while len(self._history) < self.settings.n_obs:  # repeat the first observation, as in training
            self._history.appendleft(self._history[0])
        return {k: np.stack([h[k] for h in self._history], axis=1) for k in self.obs_keys}

    def noise(self, batch: int) -> np.ndarray | None:
        """The draw for one prediction (B, *noise_shape), held channels replaced by the episode's draw."""
        if self.settings.noise_shape is None:
            return None
        assert self.normal is not None
        noise = np.array(self.normal((batch, *self.settings.noise_shape)), np.float32)
        if self.settings.held:
            held = list(self.settings.held)
            if self._held is None or self._held.shape[0] != batch:
                self._held = noise[..., held].copy()
            noise[..., held] = self._held
        return noise

    def predict(self, history: dict[str, np.ndarray]) -> np.ndarray:
        """One prediction (B, H, A) from a history, with this controller's noise."""
        batch = next(iter(history.values())).shape[0]
        return np.asarray(self._predict(history, self.noise(batch)), np.float32)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """obs key -> (B, ...) raw, current step -> (B, A) env units to execute now."""
        history = self.observe(obs)  # every step, so the history stays current between chunks
        return self.strategy.step(lambda: self.predict(history))
