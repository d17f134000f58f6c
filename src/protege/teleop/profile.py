"""Device profiles: how a device's axes become the task's action (dead zone, speed scale, signs).

A profile is a small JSON file a person tunes once per device and task family: which device axis
drives each action dimension, with which sign, how far from centre counts as "not touching it" (dead
zone), and how fast full deflection moves the robot (speed scale, a fraction of the action half-range).
One action dimension can be the gripper, driven by a button instead of an axis.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from protege.errors import ProtegeError, bad_input
from protege.specs import Spec
from protege.teleop.input import N_AXES, InputState

GRIPPER_AXIS = -1
"""`axis_map` value for an action dimension driven by the gripper button (low = open, high = closed)."""
NO_AXIS = -2
"""`axis_map` value for an action dimension held at the centre of its range."""


@dataclass
class DeviceProfile:
    device: str = "keyboard"
    """Device the profile was tuned for (keyboard, gamepad, spacemouse, scripted)."""
    axis_map: tuple[int, ...] = (0, 1, 2, GRIPPER_AXIS)
    """For each action dimension, the device axis (0..5 = x, y, z, roll, pitch, yaw) that drives it,
    -1 for the gripper button, -2 for none."""
    signs: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    """Per action dimension, +1 or -1 (flips an axis that moves the robot the wrong way)."""
    dead_zone: float = 0.1
    """Axis magnitude (0..1) below which the input counts as zero; the rest is rescaled to stay continuous."""
    speed_scale: float = 0.5
    """Full deflection as a fraction of the action half-range (1 = the action bound)."""

    def __post_init__(self) -> None:
        self.axis_map = tuple(int(a) for a in self.axis_map)
        self.signs = tuple(float(s) for s in self.signs)
        if len(self.signs) != len(self.axis_map):
            raise bad_input("device profile", "signs", f"{len(self.axis_map)} values like axis_map",
                            f"{len(self.signs)}")
        if any(s not in (-1.0, 1.0) for s in self.signs):
            raise bad_input("device profile", "signs", "+1 or -1 for each action dimension", str(self.signs))
        if any(a < NO_AXIS or a >= N_AXES for a in self.axis_map):
            raise bad_input("device profile", "axis_map", f"axes in 0..{N_AXES - 1}, -1 (gripper) or -2 (none)",
                            str(self.axis_map))
        if not 0 <= self.dead_zone < 1:
            raise bad_input("device profile", "dead_zone", "a value in [0, 1)", str(self.dead_zone))
        if not 0 < self.speed_scale <= 1:
            raise bad_input("device profile", "speed_scale", "a value in (0, 1]", str(self.speed_scale))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DeviceProfile":
        path = Path(path)
        if not path.exists():
            raise bad_input(path, None, "a device profile JSON file", "no such file")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise bad_input(path, None, "valid JSON", f"malformed JSON ({e})") from None
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise bad_input(path, unknown[0], f"one of {sorted(cls.__dataclass_fields__)}", f"'{unknown[0]}'")
        try:
            return cls(**d)
        except ProtegeError as e:
            raise ProtegeError(f"{path}: {str(e).removeprefix('device profile: ')}") from None

    def check_fits(self, spec: Spec, where: str = "device profile") -> None:
        if len(self.axis_map) != spec.action_dim:
            raise bad_input(where, "axis_map", f"{spec.action_dim} entries (the task's action size)",
                            f"{len(self.axis_map)}")


def default_profile(device: str, spec: Spec, task: str | None = None) -> DeviceProfile:
    """A starting profile: end-effector x, y, z + gripper for Meta-World, the first axes otherwise.

    Keyboard keys already give clean -1/0/+1 values, so their dead zone is 0.
    """
    A = spec.action_dim
    if task is not None and task.startswith(("metaworld/", "metaworld-vision/")) and A == 4:
        axis_map = (0, 1, 2, GRIPPER_AXIS)
    else:
        axis_map = tuple(i if i < N_AXES else NO_AXIS for i in range(A))
    dead_zone = 0.0 if device in ("keyboard", "scripted") else 0.1
    return DeviceProfile(device=device, axis_map=axis_map, signs=(1.0,) * A, dead_zone=dead_zone,
                         speed_scale=0.5 if device != "scripted" else 1.0)


def apply_dead_zone(x: np.ndarray, dead_zone: float) -> np.ndarray:
    """Zero below the dead zone, then rescale so the output still spans [-1, 1] continuously."""
    mag = np.clip((np.abs(x) - dead_zone) / (1.0 - dead_zone), 0.0, 1.0)
    return np.sign(x) * mag


class ActionMapper:
    """InputState -> action (A,) in env units, within the spec's bounds."""

    def __init__(self, profile: DeviceProfile, spec: Spec):
        profile.check_fits(spec)
        self.profile = profile
        A = spec.action_dim
        low = np.asarray(spec.action.low if spec.action.low is not None else [-1.0] * A, np.float32)
        high = np.asarray(spec.action.high if spec.action.high is not None else [1.0] * A, np.float32)
        self.low, self.high = low, high
        self.center, self.half = (high + low) / 2, (high - low) / 2
        self.axis = np.asarray(profile.axis_map)
        self.signs = np.asarray(profile.signs, np.float32)

    def __call__(self, state: InputState) -> np.ndarray:
        axes = apply_dead_zone(np.asarray(state.axes, np.float32), self.profile.dead_zone)
        picked = np.where(self.axis >= 0, axes[np.clip(self.axis, 0, N_AXES - 1)], 0.0)
        action = self.center + self.signs * self.profile.speed_scale * self.half * picked
        grip = self.high if state.gripper else self.low
        action = np.where(self.axis == GRIPPER_AXIS, grip, action)
        return np.clip(action, self.low, self.high).astype(np.float32)
