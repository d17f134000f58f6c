"""One recorded episode, validated on construction.

An `Episode` is what every producer (scripted expert, teleoperation, DAgger, a converter) hands to every
consumer (the dataset writer, the training data path). It checks its own shapes, dtypes and finiteness,
and names the offending field in the error, so bad data is stopped where it enters, not deep in training.
It does not know about files; see `native.py` for that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protege.data.frames import is_image_array
from protege.errors import bad_input

# Who chose the executed action on a step.
SOURCE_EXPERT, SOURCE_POLICY, SOURCE_HUMAN = 0, 1, 2
SOURCE_NAMES = {SOURCE_EXPERT: "expert", SOURCE_POLICY: "policy", SOURCE_HUMAN: "human"}


@dataclass(frozen=True)
class Episode:
    """A trajectory of T steps.

    observations: key -> array (T, ...) or (T+1, ...) when the final observation is kept.
    actions: (T, A) float32, the actions that were executed, env units.
    labels: (T, A) float32 or None, the expert's action on steps where one was asked for (`label_mask`).
        With noise injection the executed action is perturbed and the label is the expert's clean action.
    label_mask: (T,) bool or None, which steps carry a label (all of them when `labels` is given alone).
    rewards: (T,) float32 or None.
    success: whether the task was achieved at any step.
    source: (T,) uint8 or None, who acted on each step (SOURCE_EXPERT / SOURCE_POLICY / SOURCE_HUMAN).
    intervened: (T,) bool or None, steps on which a supervisor had taken over from the policy.
    info: small JSON-able metadata (seed, task, ...).
    origin: where the episode came from (a file path), used only in error messages.
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    labels: np.ndarray | None = None
    label_mask: np.ndarray | None = None
    rewards: np.ndarray | None = None
    success: bool = False
    source: np.ndarray | None = None
    intervened: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None

    def __post_init__(self) -> None:
        where = self.origin or "episode"
        actions = _as_float_array(self.actions, where, "actions")
        if actions.ndim != 2:
            raise bad_input(where, "actions", "a 2-D array (T, action_dim)", f"shape {actions.shape}")
        T = actions.shape[0]
        if T == 0:
            raise bad_input(where, "actions", "at least one step", "an empty episode (0 steps)")
        _check_finite(actions, where, "actions")
        object.__setattr__(self, "actions", actions)

        if not isinstance(self.observations, dict) or not self.observations:
            raise bad_input(where, "observations", "a non-empty mapping of observation arrays", repr(type(self.observations)))
        obs = {}
        for key, value in self.observations.items():
            name = f"observations/{key}"
            if is_image_array(value) and not isinstance(value, np.ndarray):
                # a lazy camera (FrameArray): checked by its shape and dtype, never decoded here
                if value.shape[0] not in (T, T + 1):
                    raise bad_input(where, name, f"length {T} or {T + 1} to match actions", f"shape {value.shape}")
                obs[key] = value
                continue
            arr = np.asarray(value)
            if arr.dtype == object:
                raise bad_input(where, name, "a numeric array", "an object array")
            if arr.ndim == 0 or arr.shape[0] not in (T, T + 1):
                raise bad_input(where, name, f"length {T} or {T + 1} to match actions", f"shape {arr.shape}")
            if arr.dtype.kind == "f":
                arr = arr.astype(np.float32, copy=False)
                _check_finite(arr, where, name)
            elif arr.dtype.kind not in "iub":
                raise bad_input(where, name, "a numeric array", f"dtype {arr.dtype}")
            obs[key] = arr
        object.__setattr__(self, "observations", obs)

        if self.labels is not None:
            labels = _as_float_array(self.labels, where, "labels")
            if labels.shape != actions.shape:
                raise bad_input(where, "labels", f"shape {actions.shape} like actions", f"shape {labels.shape}")
            mask = np.ones(T, bool) if self.label_mask is None else np.asarray(self.label_mask, bool)
            if mask.shape != (T,):
                raise bad_input(where, "label_mask", f"shape ({T},)", f"shape {mask.shape}")
            labels = np.where(mask[:, None], labels, 0.0).astype(np.float32)
            _check_finite(labels, where, "labels")
            object.__setattr__(self, "labels", labels)
            object.__setattr__(self, "label_mask", mask)
        elif self.label_mask is not None:
            raise bad_input(where, "label_mask", "labels alongside label_mask", "label_mask without labels")

        for name, dtype in (("rewards", np.float32), ("source", np.uint8), ("intervened", bool)):
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value)
            if arr.shape != (T,):
                raise bad_input(where, name, f"shape ({T},)", f"shape {arr.shape}")
            arr = arr.astype(dtype, copy=False)
            if name == "rewards":
                _check_finite(arr, where, name)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "success", bool(self.success))

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    @property
    def targets(self) -> np.ndarray:
        """The actions to imitate: the expert's label where there is one, the executed action elsewhere."""
        if self.labels is None:
            return self.actions
        return np.where(self.label_mask[:, None], self.labels, self.actions)

    @property
    def num_labels(self) -> int:
        return int(self.label_mask.sum()) if self.label_mask is not None else 0

    def head(self, n: int) -> "Episode":
        """The first `n` steps (the whole episode when n >= T): what an expert asked to stop after n steps
        would have given. A cut episode keeps the observation after its last step and counts as unsuccessful
        (where in it the task was achieved is not recorded)."""
        T = len(self)
        if n >= T:
            return self
        if n < 1:
            raise bad_input(self.origin or "episode", "head", "at least 1 step", str(n))
        cut = {k: v[:n + 1] if v.shape[0] == T + 1 else v[:n] for k, v in self.observations.items()}
        per_step = {name: None if getattr(self, name) is None else getattr(self, name)[:n]
                    for name in ("labels", "label_mask", "rewards", "source", "intervened")}
        return dataclasses.replace(self, observations=cut, actions=self.actions[:n], success=False,
                                   info={**self.info, "cut_at": n}, **per_step)

    def step_observations(self) -> dict[str, np.ndarray]:
        """Observations aligned with actions (the first T; drops a kept final observation)."""
        T = len(self)
        return {k: v[:T] for k, v in self.observations.items()}


def _as_float_array(value: Any, where: str, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        raise bad_input(where, name, "a numeric array", "an object array")
    if arr.dtype.kind not in "fiub":
        raise bad_input(where, name, "a numeric array", f"dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def _check_finite(arr: np.ndarray, where: str, name: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        value = arr[tuple(bad)]
        raise bad_input(where, name, "finite values", f"{value} at index {tuple(int(i) for i in bad)}")
