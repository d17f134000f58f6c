"""Gamepad teleoperation through pygame's joystick API (optional dependency, imported lazily).

Default layout (an Xbox-style pad as SDL numbers it):

    left stick   x, y (forward = +y)       A  gripper open/close      start  start an episode
    right stick  z (up = +z), yaw          B  take over / hand back   back   stop and keep the episode
    triggers     roll (right - left)       X  discard                 LB+RB  emergency stop
                                           Y  mark successful

SDL delivers joystick state through its event queue on the thread that initialised it, so the pad is
polled from the control loop (`pygame.event.pump()` plus a few reads: microseconds, never a wait).
The translation from raw axes and buttons to an `InputState` is a pure function, tested without a pad.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from protege.errors import ProtegeError
from protege.teleop.input import DISCARD, ESTOP, GRIPPER, N_AXES, START, STOP, SUCCESS, TAKEOVER, InputState

BUTTON_COMMANDS = {0: GRIPPER, 1: TAKEOVER, 2: DISCARD, 3: SUCCESS, 6: STOP, 7: START}
ESTOP_CHORD = (4, 5)


def require_pygame():
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep the terminal for protege's own lines
    try:
        import pygame
    except ImportError:
        raise ProtegeError("gamepad: expected the optional package pygame, found it missing "
                           "(pip install pygame)") from None
    return pygame


def gamepad_state(raw_axes: Sequence[float], buttons: Sequence[bool], previous: Sequence[bool]) -> InputState:
    """SDL axes (lx, ly, rx, ry, lt, rt; sticks in [-1, 1], triggers -1 released .. 1 pressed) and buttons
    -> InputState. Commands fire on press (not while held)."""
    a = list(raw_axes) + [0.0] * (6 - len(raw_axes))
    lx, ly, rx, ry, lt, rt = (float(v) for v in a[:6])
    axes = np.zeros(N_AXES, np.float32)
    axes[0], axes[1], axes[2] = lx, -ly, -ry  # SDL's y axes point down
    axes[3] = ((rt + 1) - (lt + 1)) / 2 if len(raw_axes) >= 6 else 0.0
    axes[5] = rx
    pressed = [i for i, b in enumerate(buttons) if b and not (i < len(previous) and previous[i])]
    commands = [BUTTON_COMMANDS[i] for i in pressed if i in BUTTON_COMMANDS]
    if all(i < len(buttons) and buttons[i] for i in ESTOP_CHORD) and any(i in pressed for i in ESTOP_CHORD):
        commands.append(ESTOP)
    return InputState(axes=np.clip(axes, -1, 1), commands=tuple(commands))


class GamepadSource:
    """The first joystick pygame finds, polled without blocking."""

    def __init__(self, index: int = 0):
        pygame = require_pygame()
        pygame.init()
        pygame.joystick.init()
        if pygame.joystick.get_count() <= index:
            raise ProtegeError(f"gamepad: expected a connected joystick #{index}, found "
                               f"{pygame.joystick.get_count()} joystick(s)")
        self._pg = pygame
        self._js = pygame.joystick.Joystick(index)
        self._js.init()
        self._previous: list[bool] = []

    def poll(self) -> InputState:
        self._pg.event.pump()
        axes = [self._js.get_axis(i) for i in range(self._js.get_numaxes())]
        buttons = [bool(self._js.get_button(i)) for i in range(self._js.get_numbuttons())]
        state = gamepad_state(axes, buttons, self._previous)
        self._previous = buttons
        return state

    def close(self) -> None:
        self._js.quit()
