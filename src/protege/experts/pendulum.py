"""Scripted experts for gymnasium's Pendulum-v1 (theta = 0 is upright; torque limited to +-2 N m).

Pendulum-v1's dynamics are  theta'' = a sin(theta) + b u  with a = 3g/(2l) = 15 and b = 3/(m l^2) = 3.
The torque limit (b u <= 6 < a) means the pole cannot be lifted directly: it must be swung up.

- `SwingUpExpert`: energy shaping far from upright (pump E = theta'^2/2 + a (cos theta - 1) towards 0, the
  energy of the upright rest state), then a stabilising PD law once close to upright and slow enough.
  It swings up from any start and balances.
- `PDExpert`: a textbook PD controller, u = -(kp theta + kd theta'); balances near upright, but from
  most starts it cannot swing up on its own (a deliberately weaker expert).
"""

from __future__ import annotations

import numpy as np

A, B, MAX_TORQUE = 15.0, 3.0, 2.0


def _angle_and_rate(obs: dict[str, np.ndarray]) -> tuple[float, float]:
    cos_th, sin_th, thdot = (float(v) for v in np.asarray(obs["state"]).reshape(-1)[:3])
    return float(np.arctan2(sin_th, cos_th)), thdot


class PDExpert:
    """u = -(kp theta + kd theta'), clipped to the torque limit."""

    def __init__(self, kp: float = 10.0, kd: float = 2.0):
        self.kp, self.kd = kp, kd
        self.name = "pendulum-pd"

    def reset(self) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        th, thdot = _angle_and_rate(obs)
        return np.array([np.clip(-(self.kp * th + self.kd * thdot), -MAX_TORQUE, MAX_TORQUE)], np.float32)


class SwingUpExpert:
    """Energy-shaping swing-up with a PD catch near upright."""

    def __init__(self, k_energy: float = 0.5, kp: float = 10.0, kd: float = 2.0, catch_angle: float = 0.5):
        self.k_energy, self.catch_angle = k_energy, catch_angle
        self._pd = PDExpert(kp, kd)
        self.name = "pendulum"

    def reset(self) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        th, thdot = _angle_and_rate(obs)
        energy = 0.5 * thdot**2 + A * (np.cos(th) - 1.0)
        if abs(th) < self.catch_angle and abs(energy) < 0.5 * A:
            return self._pd.act(obs)
        # dE/dt = b u theta': push energy towards 0 by torquing with (or against) the motion.
        direction = np.sign(thdot) if abs(thdot) > 1e-3 else 1.0
        u = -self.k_energy * energy * direction
        return np.array([np.clip(u, -MAX_TORQUE, MAX_TORQUE)], np.float32)
