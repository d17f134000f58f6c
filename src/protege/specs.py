"""Observation and action specifications.

A `Spec` says what a policy consumes and produces: named observation arrays (shape, dtype) and one action
array with its bounds, plus the control rate. Datasets, tasks, checkpoints and robots all carry one, and
`check_compatible` is the single place that decides whether two of them fit together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protege.errors import ProtegeError, bad_input

Source = Any  # a file path (or None) named in error messages


def _short(value: Any) -> str:
    """A value as it reads in a one-line error, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


@dataclass(frozen=True)
class ArraySpec:
    """Shape and dtype of one array (per time step), with optional elementwise bounds (env units)."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        for name in ("low", "high"):
            value = getattr(self, name)
            if value is not None:
                flat = tuple(float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1))
                if len(flat) != int(np.prod(self.shape)):
                    raise bad_input(None, name, f"{int(np.prod(self.shape))} values for shape {self.shape}",
                                    f"{len(flat)} values")
                object.__setattr__(self, name, flat)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def half_range(self) -> np.ndarray:
        """Half the width between the bounds, per element (float64, this spec's shape); 1 where unbounded.
        The unit action noise and action deviations are counted in (`--noise 0.1` = a tenth of it)."""
        if self.low is None or self.high is None:
            return np.ones(self.shape, np.float64)
        return (np.asarray(self.high, np.float64) - np.asarray(self.low, np.float64)).reshape(self.shape) / 2

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": list(self.shape), "dtype": self.dtype}
        if self.low is not None:
            out["low"] = list(self.low)
        if self.high is not None:
            out["high"] = list(self.high)
        return out

    @classmethod
    def from_dict(cls, d: Any, source: Source = None, field: str = "spec") -> "ArraySpec":
        """Build from JSON, refusing wrong types or sizes in one line naming `source` and `field`."""
        if not isinstance(d, dict):
            raise bad_input(source, field, "an object with 'shape' and 'dtype'", _short(d))
        shape = d.get("shape")
        if not (isinstance(shape, (list, tuple)) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                         for s in shape)):
            raise bad_input(source, f"{field}.shape", "a list of non-negative integers", _short(shape))
        dtype = d.get("dtype", "float32")
        if not isinstance(dtype, str):
            raise bad_input(source, f"{field}.dtype", "a dtype name such as 'float32'", _short(dtype))
        size = int(np.prod(shape)) if shape else 1
        for name in ("low", "high"):
            value = d.get(name)
            if value is not None and not (_number_list(value) and len(value) == size):
                raise bad_input(source, f"{field}.{name}", f"a list of {size} numbers", _short(value))
        return cls(shape=tuple(shape), dtype=dtype, low=d.get("low"), high=d.get("high"))

    def describe(self) -> str:
        return f"{self.dtype}{list(self.shape)}"


@dataclass(frozen=True)
class Spec:
    """What flows through a policy: observation arrays by key, the action array, and the control rate (Hz)."""

    observation: dict[str, ArraySpec]
    action: ArraySpec
    fps: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def obs_keys(self) -> list[str]:
        return list(self.observation)

    @property
    def obs_dim(self) -> int:
        """Total size of all observation arrays flattened and concatenated in key order."""
        return sum(s.size for s in self.observation.values())

    @property
    def action_dim(self) -> int:
        return self.action.size

    def to_dict(self) -> dict[str, Any]:
        return {
            "observation": {k: v.to_dict() for k, v in self.observation.items()},
            "action": self.action.to_dict(),
            "fps": self.fps,
        }

    @classmethod
    def from_dict(cls, d: Any, source: Source = None) -> "Spec":
        """Build from JSON (a checkpoint's config.json, a dataset's meta.json), checking every type and
        size, so a damaged or hand-edited file fails in one line naming `source` and the field."""
        if not isinstance(d, dict):
            raise bad_input(source, "spec", "an object with 'observation' and 'action'", _short(d))
        obs = d.get("observation")
        if not isinstance(obs, dict) or not obs:
            raise bad_input(source, "spec.observation", "a non-empty object of key -> array spec", _short(obs))
        if "action" not in d:
            raise bad_input(source, "spec.action", "an action array spec", "it missing")
        fps = d.get("fps", 0.0)
        if not isinstance(fps, (int, float)) or isinstance(fps, bool) or fps < 0:
            raise bad_input(source, "spec.fps", "a number >= 0", _short(fps))
        return cls(
            observation={k: ArraySpec.from_dict(v, source, f"spec.observation.{k}") for k, v in obs.items()},
            action=ArraySpec.from_dict(d["action"], source, "spec.action"),
            fps=float(fps),
        )

    def describe(self) -> str:
        obs = ", ".join(f"{k}: {v.describe()}" for k, v in self.observation.items())
        return f"observation {{{obs}}}, action {self.action.describe()}"


def check_compatible(policy_spec: Spec, target_spec: Spec, policy_name: str, target_name: str) -> None:
    """Refuse to point something trained on `policy_spec` at something producing `target_spec`.

    Only shapes matter (dtypes are cast, bounds may differ slightly between task variants); the error
    names both sides in full so the user can see which key or dimension is off.
    """
    same_obs = {k: v.shape for k, v in policy_spec.observation.items()} == {
        k: v.shape for k, v in target_spec.observation.items()
    }
    same_act = policy_spec.action.shape == target_spec.action.shape
    if not (same_obs and same_act):
        raise ProtegeError(
            f"{policy_name} does not fit {target_name}: expected {policy_spec.describe()}, "
            f"found {target_spec.describe()}"
        )
