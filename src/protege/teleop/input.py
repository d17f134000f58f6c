"""What a person's input device reports, and how it is read without blocking the control loop.

Every device (keyboard, gamepad, SpaceMouse, a script standing in for a person) is an `InputSource`:
`poll()` returns at once with the latest `InputState`, the device's continuous axes plus the discrete
commands (start, stop, discard, ...) issued since the previous poll. Hardware is read on a background
thread (`ThreadedSource`), so a slow or silent device never delays a control step; `ScriptedSource`
replays a fixed sequence, one state per poll, so everything built on devices is testable without a
person. This module deliberately knows nothing about action spaces (see `profile.py`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

N_AXES = 6
"""Device axes, each in [-1, 1]: x, y, z (translation), roll, pitch, yaw (rotation)."""

# Discrete commands a device can issue; the recorder, interventions and deployment act on them.
START, STOP, DISCARD, SUCCESS, TAKEOVER, GRIPPER, ESTOP, QUIT = (
    "start", "stop", "discard", "success", "takeover", "gripper", "estop", "quit")
COMMANDS = (START, STOP, DISCARD, SUCCESS, TAKEOVER, GRIPPER, ESTOP, QUIT)


@dataclass(frozen=True)
class InputState:
    """One reading of a device.

    axes: (6,) float32 in [-1, 1], raw (before dead zone, signs and scaling).
    gripper: None, or the gripper held closed (True) / open (False) by a button the device owns.
    commands: discrete commands issued since the previous poll, oldest first.
    """

    axes: np.ndarray = field(default_factory=lambda: np.zeros(N_AXES, np.float32))
    gripper: bool | None = None
    commands: tuple[str, ...] = ()


class InputSource(Protocol):
    def poll(self) -> InputState:
        """The latest state and the commands since the previous poll; never blocks."""

    def close(self) -> None:
        """Release the device (stop its reader thread)."""


class ScriptedSource:
    """Replays states, one per `poll()`; after the last one it repeats neutral axes with no commands.

    Stands in for a person in tests and demos. `on_poll(i)` (optional) is called with the poll index
    before the state is returned, e.g. to simulate a crash at a chosen step.
    """

    def __init__(self, states: Iterable[InputState], on_poll: Callable[[int], None] | None = None):
        self.states = list(states)
        self.index = 0
        self.on_poll = on_poll

    def poll(self) -> InputState:
        if self.on_poll is not None:
            self.on_poll(self.index)
        i, self.index = self.index, self.index + 1
        if i < len(self.states):
            return self.states[i]
        last = self.states[-1] if self.states else InputState()
        return InputState(axes=np.zeros(N_AXES, np.float32), gripper=last.gripper)

    def close(self) -> None:
        pass


def script(steps: Sequence[tuple[int, str | Sequence[float]]], length: int,
           gripper: Sequence[tuple[int, bool]] = ()) -> list[InputState]:
    """Build a script of `length` polls from sparse events: (poll index, command or axes (<=6 values)).

    Axes given at an index stay until the next axes event; commands fire once; `gripper` events set the
    gripper button from their index on.
    """
    axes = np.zeros(N_AXES, np.float32)
    grip: bool | None = None
    by_index: dict[int, list] = {}
    for i, ev in steps:
        by_index.setdefault(i, []).append(ev)
    grip_at = dict(gripper)
    out = []
    for i in range(length):
        cmds = []
        for ev in by_index.get(i, []):
            if isinstance(ev, str):
                cmds.append(ev)
            else:
                axes = np.zeros(N_AXES, np.float32)
                axes[:len(ev)] = ev
        grip = grip_at.get(i, grip)
        out.append(InputState(axes=axes.copy(), gripper=grip, commands=tuple(cmds)))
    return out


class ThreadedSource:
    """Reads a device on a daemon thread; `poll()` hands out the latest state without waiting.

    read: blocks until the device reports (or a short timeout passes) and returns (axes or None,
        gripper or None, commands); None leaves the previous value in place. It runs on the thread
        only, so hardware libraries are touched from one thread.
    """

    def __init__(self, read: Callable[[], tuple[np.ndarray | None, bool | None, Sequence[str]]],
                 close: Callable[[], None] | None = None, name: str = "input"):
        self._read, self._close = read, close
        self._lock = threading.Lock()
        self._axes = np.zeros(N_AXES, np.float32)
        self._gripper: bool | None = None
        self._commands: list[str] = []
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=f"protege-{name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                axes, gripper, commands = self._read()
            except BaseException as e:  # the control loop sees it on its next poll
                self.error = e
                return
            with self._lock:
                if axes is not None:
                    self._axes = np.clip(np.asarray(axes, np.float32), -1.0, 1.0)
                if gripper is not None:
                    self._gripper = gripper
                self._commands.extend(commands)

    def poll(self) -> InputState:
        if self.error is not None:
            from protege.errors import ProtegeError

            raise ProtegeError(f"input device: expected readings, found an error ({self.error})")
        with self._lock:
            cmds, self._commands = tuple(self._commands), []
            return InputState(axes=self._axes.copy(), gripper=self._gripper, commands=cmds)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=0.5)  # the reader times out and sees the flag before the device closes
        if self._close is not None:
            self._close()


class MergedSource:
    """Axes and gripper from `primary`; commands from it and from `extra` (e.g. keyboard keys beside a
    SpaceMouse that has only two buttons)."""

    def __init__(self, primary: InputSource, extra: InputSource):
        self.primary, self.extra = primary, extra

    def poll(self) -> InputState:
        a, b = self.primary.poll(), self.extra.poll()
        return InputState(axes=a.axes, gripper=a.gripper, commands=a.commands + b.commands)

    def close(self) -> None:
        self.primary.close()
        self.extra.close()
