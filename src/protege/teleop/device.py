"""A person at an input device, as an Actor and as HG-DAgger's Supervisor.

`TeleopDevice` composes an `InputSource` (what the hardware says) with an `ActionMapper` (the profile:
what that means in the task's action space). It keeps the two pieces of state a person toggles with
buttons: the gripper (open/closed) and whether they have taken control from the policy. It satisfies
`protege.actor.Supervisor`, so the DAgger family's human gate can use a person as its expert.

Each control step reads the device once: the first of `poll()`, `wants_control()` or `act()` in a step
reads it, and the following calls in the same step reuse that reading (the gate and the action then
agree on what the person was doing).
"""

from __future__ import annotations

import numpy as np

from protege.actor import Observation
from protege.data.episode import SOURCE_HUMAN
from protege.specs import Spec
from protege.teleop.input import GRIPPER, TAKEOVER, InputSource, InputState
from protege.teleop.profile import ActionMapper, DeviceProfile, apply_dead_zone


class TeleopDevice:
    """InputSource + profile -> action (A,) in env units; `wants_control` when the person has taken over.

    `source` tells loops that record who acted (e.g. the DAgger family's) to mark these steps as human.

    takeover_on_motion: also take control whenever an axis leaves the dead zone (grab the device to
        intervene), in addition to the take-over command, which toggles.
    """

    def __init__(self, source: InputSource, profile: DeviceProfile, spec: Spec, name: str | None = None,
                 takeover_on_motion: bool = False):
        self.input = source
        self.profile = profile
        self.mapper = ActionMapper(profile, spec)
        self.name = name or f"human:{profile.device}"
        self.source = SOURCE_HUMAN
        self.takeover_on_motion = takeover_on_motion
        self.engaged = False
        self.gripper_closed = False
        self.state = InputState()
        self._fresh = False  # a reading not yet used by wants_control/act this step
        self._gate_read = False  # wants_control read the device this step; act may reuse it

    # --- reading ------------------------------------------------------------------------------
    def poll(self) -> InputState:
        """Read the device once (never blocks) and apply its toggles; returns the reading."""
        state = self.input.poll()
        for cmd in state.commands:
            if cmd == TAKEOVER:
                self.engaged = not self.engaged
            elif cmd == GRIPPER:
                self.gripper_closed = not self.gripper_closed
        if state.gripper is not None:
            self.gripper_closed = state.gripper
        self.state, self._fresh, self._gate_read = state, True, False
        return state

    def moving(self) -> bool:
        """Whether any axis is outside the dead zone in the current reading."""
        return bool(np.any(apply_dead_zone(self.state.axes, self.profile.dead_zone) != 0))

    # --- Actor / Supervisor -------------------------------------------------------------------
    def reset(self) -> None:
        self.engaged = False
        self.gripper_closed = False

    def wants_control(self, obs: Observation, policy_action: np.ndarray) -> bool:
        if not self._fresh:
            self.poll()
        self._fresh, self._gate_read = False, True
        return self.engaged or (self.takeover_on_motion and self.moving())

    def act(self, obs: Observation) -> np.ndarray:
        if not (self._fresh or self._gate_read):
            self.poll()
        self._fresh = self._gate_read = False
        state = InputState(axes=self.state.axes, gripper=self.gripper_closed)
        return self.mapper(state)

    def close(self) -> None:
        self.input.close()


DEVICES = ("keyboard", "gamepad", "spacemouse")


def open_device(name: str, spec: Spec, task: str | None = None, profile: DeviceProfile | None = None,
                window=None, takeover_on_motion: bool = False) -> TeleopDevice:
    """Open a hardware device by name with `profile` (or the default one for the task).

    window: a `PygameWindow` to read keys from (keyboard) instead of the terminal; for the gamepad and the
        SpaceMouse, recorder keys come from the window or, failing that, the terminal when it is one.
    """
    import sys

    from protege.errors import bad_input
    from protege.teleop.keyboard import KeyboardSource, TerminalKeys
    from protege.teleop.profile import default_profile

    if name not in DEVICES:
        raise bad_input(None, "device", f"one of {', '.join(DEVICES)}", f"'{name}'")
    profile = profile or default_profile(name, spec, task)
    profile.check_fits(spec, f"{name} profile")

    def keys():
        if window is not None:
            return KeyboardSource(window)
        return KeyboardSource(TerminalKeys()) if sys.stdin.isatty() else None

    if name == "keyboard":
        source = keys()
        if source is None:
            TerminalKeys()  # raises the one-line error explaining what is missing
    else:
        if name == "gamepad":
            from protege.teleop.gamepad import GamepadSource

            source = GamepadSource()
        else:
            from protege.teleop.spacemouse import open_spacemouse

            source = open_spacemouse()
        extra = keys()
        if extra is not None:
            from protege.teleop.input import MergedSource

            source = MergedSource(source, extra)
    return TeleopDevice(source, profile, spec, takeover_on_motion=takeover_on_motion)
