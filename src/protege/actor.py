"""The Actor seam: anything that acts.

Scripted experts, a person at a teleop device and a trained policy wrapped for execution all answer
`reset()` at the start of an episode and `act(obs) -> action` on every step. Observations are dicts of
numpy arrays keyed like the task's spec (`{"state": (D,)}` for state-based tasks); actions are numpy
arrays in env units. Evaluation, recording, DAgger and deployment take any Actor.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

Observation = dict[str, np.ndarray]


@runtime_checkable
class Actor(Protocol):
    def reset(self) -> None:
        """Forget any per-episode state (action queues, observation history, controller phase)."""

    def act(self, obs: Observation) -> np.ndarray:
        """Return the action (A,) to execute for one observation, in env units."""


@runtime_checkable
class Supervisor(Protocol):
    """An Actor that can also take control: HG-DAgger's expert.

    A simulated supervisor (a scripted expert with a threshold) and a person at a teleop device both
    satisfy it. The loop asks `wants_control` every step while the learner drives and while the
    supervisor drives; True means the supervisor's `act(obs)` is executed (and labelled) on this step,
    False hands control (back) to the learner.
    """

    def reset(self) -> None: ...

    def act(self, obs: Observation) -> np.ndarray: ...

    def wants_control(self, obs: Observation, policy_action: np.ndarray) -> bool: ...
