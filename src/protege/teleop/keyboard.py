"""Keyboard teleoperation: held keys move the robot, single keys issue commands.

    d / a   +x / -x          g   gripper open/close        b   start an episode
    w / s   +y / -y          t   take over / hand back     n   stop and keep the episode
    r / f   +z / -z                                        x   discard the episode
    i / k   +roll / -roll    y   mark the episode successful
    j / l   +pitch / -pitch  q   quit                      Esc / space   emergency stop
    u / o   +yaw / -yaw

Two backends feed the same `KeyboardSource`: the live pygame window (true key-down/key-up) and the
terminal (stdin in cbreak mode, read on a background thread). A terminal only reports key presses and
auto-repeats, so a key counts as held for a short while after each press (long enough to bridge the
auto-repeat delay after the first press, short after repeats).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Protocol

import numpy as np

from protege.teleop.input import (DISCARD, ESTOP, GRIPPER, N_AXES, QUIT, START, STOP, SUCCESS, TAKEOVER,
                                  InputState)

AXIS_KEYS: dict[str, tuple[int, float]] = {
    "d": (0, 1.0), "a": (0, -1.0), "w": (1, 1.0), "s": (1, -1.0), "r": (2, 1.0), "f": (2, -1.0),
    "i": (3, 1.0), "k": (3, -1.0), "j": (4, 1.0), "l": (4, -1.0), "u": (5, 1.0), "o": (5, -1.0),
}
COMMAND_KEYS: dict[str, str] = {
    "b": START, "n": STOP, "x": DISCARD, "y": SUCCESS, "t": TAKEOVER, "g": GRIPPER, "q": QUIT,
    "escape": ESTOP, "space": ESTOP,
}


class KeyBackend(Protocol):
    def held(self) -> set[str]:
        """Keys held down now."""

    def pressed(self) -> list[str]:
        """Keys pressed since the previous call, oldest first."""

    def close(self) -> None: ...


def axes_from_keys(held: set[str]) -> np.ndarray:
    """(6,) axes in {-1, 0, 1}: opposite keys held together cancel."""
    axes = np.zeros(N_AXES, np.float32)
    for key in held:
        if key in AXIS_KEYS:
            axis, value = AXIS_KEYS[key]
            axes[axis] += value
    return np.clip(axes, -1.0, 1.0)


class KeyboardSource:
    """An InputSource over a key backend; polling costs one dictionary walk, never a wait."""

    def __init__(self, backend: KeyBackend):
        self.backend = backend

    def poll(self) -> InputState:
        commands = tuple(COMMAND_KEYS[k] for k in self.backend.pressed() if k in COMMAND_KEYS)
        return InputState(axes=axes_from_keys(self.backend.held()), commands=commands)

    def close(self) -> None:
        self.backend.close()


class ScriptedKeys:
    """A key backend driven by a script: per poll, the set of held keys and the keys pressed."""

    def __init__(self, frames: list[tuple[set[str], list[str]]]):
        self.frames, self.i = frames, 0
        self._current: tuple[set[str], list[str]] = (set(), [])

    def pressed(self) -> list[str]:  # called first by KeyboardSource.poll: advance one frame
        self._current = self.frames[self.i] if self.i < len(self.frames) else (set(), [])
        self.i += 1
        return list(self._current[1])

    def held(self) -> set[str]:
        return set(self._current[0])

    def close(self) -> None:
        pass


class TerminalKeys:
    """Keys from the terminal (stdin in cbreak mode) on a daemon thread; restores the terminal on close.

    first_hold_s: how long a key counts as held after its first press (bridges the auto-repeat delay).
    repeat_hold_s: how long after an auto-repeat.
    """

    def __init__(self, first_hold_s: float = 0.55, repeat_hold_s: float = 0.12):
        if not sys.stdin.isatty():
            from protege.errors import ProtegeError

            raise ProtegeError("keyboard: expected an interactive terminal (stdin a tty), found none "
                               "(run in a terminal, or use the live window, which needs pygame and a display)")
        import termios
        import tty

        self.first_hold_s, self.repeat_hold_s = first_hold_s, repeat_hold_s
        self._fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._pressed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="protege-keys", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                continue
            ch = os.read(self._fd, 1).decode(errors="ignore")
            key = {"\x1b": "escape", " ": "space"}.get(ch, ch.lower())
            now = time.monotonic()
            with self._lock:
                repeat = now - self._last.get(key, -1e9) < self.first_hold_s
                self._until[key] = now + (self.repeat_hold_s if repeat else self.first_hold_s)
                self._last[key] = now
                if not repeat or key not in AXIS_KEYS:
                    self._pressed.append(key)

    def held(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {k for k, t in self._until.items() if t > now and k in AXIS_KEYS}

    def pressed(self) -> list[str]:
        with self._lock:
            out, self._pressed = self._pressed, []
            return out

    def close(self) -> None:
        import termios

        self._stop.set()
        self._thread.join(timeout=0.5)
        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
