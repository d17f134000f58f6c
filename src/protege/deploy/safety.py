"""Safety limits between the policy and the robot.

Every action passes `SafetyFilter.check` before it is sent:

- a NaN or infinite value stops the robot (`SafetyStop`); it is never clamped into something plausible;
- values are clamped to the action bounds;
- the change from the previous action is clamped to `max_delta` per step (per dimension, env units),
  so a policy glitch becomes a bounded ramp, not a jump;
- an observation older than `max_obs_age_s` (the robot's own timestamp) stops the robot; with the
  watchdog on, an observation *without* a timestamp stops it too (before it moves, if it is the first):
  stamping it on receipt would make the watchdog measure nothing, and a robot whose driver cannot stamp
  its readings must say so by turning the watchdog off (`--max-obs-age 0`).

The safe stop itself (what a robot does when stopped) is the runner's `safe_action`: the centre of the
bounds, i.e. zero velocity for delta/velocity control and zero torque.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from protege.specs import Spec


class SafetyStop(Exception):
    """Raised when a safety rule requires stopping the robot; `reason` names the rule."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass
class SafetyConfig:
    max_delta: float = 0.0
    """Largest change of any action dimension between consecutive steps, env units (0 = unlimited)."""
    max_obs_age_s: float = 0.25
    """Stop when the robot's observation timestamp is older than this, seconds (0 = no watchdog)."""
    clamp: bool = True
    """Clamp actions to the spec's bounds."""


class SafetyFilter:
    def __init__(self, spec: Spec, config: SafetyConfig | None = None, clock=time.monotonic):
        self.config = config or SafetyConfig()
        A = spec.action_dim
        self.low = np.asarray(spec.action.low, np.float32) if spec.action.low is not None else np.full(A, -np.inf, np.float32)
        self.high = np.asarray(spec.action.high, np.float32) if spec.action.high is not None else np.full(A, np.inf, np.float32)
        self.safe_action = np.where(np.isfinite(self.low) & np.isfinite(self.high), (self.low + self.high) / 2,
                                    0.0).astype(np.float32)
        self._clock = clock
        self.previous: np.ndarray | None = None
        self.clamped_steps = 0
        self.rate_limited_steps = 0

    def check_observation(self, obs: dict) -> None:
        if self.config.max_obs_age_s <= 0:
            return
        ts = obs.get("timestamp")
        if ts is None:
            raise SafetyStop("observation without timestamp", "the watchdog needs the time the robot measured "
                                                              "it ('timestamp'); or run with --max-obs-age 0")
        age = self._clock() - float(np.asarray(ts))
        if age > self.config.max_obs_age_s:
            raise SafetyStop("stale observation", f"observation is {age * 1000:.0f} ms old "
                                                  f"(limit {self.config.max_obs_age_s * 1000:.0f} ms)")

    def check(self, action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, np.float32).reshape(self.low.shape)
        if not np.isfinite(a).all():
            bad = int(np.argmax(~np.isfinite(a)))
            raise SafetyStop("non-finite action", f"action[{bad}] = {a[bad]}")
        out = a
        if self.config.clamp:
            out = np.clip(out, self.low, self.high)
            self.clamped_steps += int(not np.array_equal(out, a))
        if self.config.max_delta > 0 and self.previous is not None:
            limited = np.clip(out, self.previous - self.config.max_delta, self.previous + self.config.max_delta)
            self.rate_limited_steps += int(not np.array_equal(limited, out))
            out = limited
        self.previous = out
        return out.astype(np.float32)
