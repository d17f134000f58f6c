"""Observation and action specifications.

A `Spec` says what a policy consumes and produces: named observation arrays (shape, dtype) and one action
array with its bounds, plus the control rate. Datasets, tasks, checkpoints and robots all carry one, and
`check_compatible` is the single place that decides whether two of them fit together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protege.errors import ProtegeError


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
                    raise ValueError(f"ArraySpec.{name} has {len(flat)} values for shape {self.shape}")
                object.__setattr__(self, name, flat)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": list(self.shape), "dtype": self.dtype}
        if self.low is not None:
            out["low"] = list(self.low)
        if self.high is not None:
            out["high"] = list(self.high)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArraySpec":
        return cls(shape=tuple(d["shape"]), dtype=d.get("dtype", "float32"), low=d.get("low"), high=d.get("high"))

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
    def from_dict(cls, d: dict[str, Any]) -> "Spec":
        return cls(
            observation={k: ArraySpec.from_dict(v) for k, v in d["observation"].items()},
            action=ArraySpec.from_dict(d["action"]),
            fps=float(d.get("fps", 0.0)),
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
