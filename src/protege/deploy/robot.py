"""The Robot seam: what the deployment loop drives.

A robot (real, or the simulated one in `protege.envs.sim_robot`) answers `connect()`,
`get_observation()`, `send_action(action)` and `disconnect()`, and carries its `spec` (observation keys
and shapes, action shape and bounds) so a checkpoint can be checked against it before anything moves.

An observation is a dict of numpy arrays keyed like the spec, plus `"timestamp"`: when the robot
measured it, in seconds on `time.monotonic()`; the watchdog stops the robot when that is older than
allowed (a frozen camera or a dead bus keeps answering with the last value). With the watchdog on, an
observation without a timestamp stops the robot too (before it moves): the runner does not stamp it on
receipt, which would only measure its own delay; a robot that cannot stamp turns the watchdog off.

A robot that runs episodes (the simulated one, or a real cell that resets its scene) may add
`"episode_start": True` to the first observation of each new episode; the runner then resets the
controller (history, queued actions, live chunks, held draws) there, as `protege eval` does per episode.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from protege.actor import Observation
from protege.specs import Spec

TIMESTAMP_KEY = "timestamp"
EPISODE_START_KEY = "episode_start"


@runtime_checkable
class Robot(Protocol):
    spec: Spec

    def connect(self) -> None: ...

    def get_observation(self) -> Observation: ...

    def send_action(self, action: np.ndarray) -> None: ...

    def disconnect(self) -> None: ...
