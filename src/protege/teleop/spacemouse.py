"""3Dconnexion SpaceMouse teleoperation over HID (hidapi, optional, imported lazily).

The device streams HID reports: id 1 = translation (x, y, z as little-endian int16), id 2 = rotation
(roll, pitch, yaw), id 3 = button bitmask; newer wireless models put all six axes in report 1. A
background thread blocks on `read` (with a timeout, so it can stop) and keeps the latest values; the
control loop only ever takes the latest. Parsing is a pure function, tested on hand-made reports.

Left button: gripper open/close. Right button: take over / hand back. Recorder keys come from the
keyboard alongside (the device has only two buttons).
"""

from __future__ import annotations

import struct

import numpy as np

from protege.errors import ProtegeError
from protege.teleop.input import GRIPPER, N_AXES, TAKEOVER, ThreadedSource

VENDOR_IDS = (0x256F, 0x046D)  # 3Dconnexion, and Logitech for older units
FULL_SCALE = 350.0
"""Raw counts at full deflection on most models; readings are divided by it and clipped to [-1, 1]."""
BUTTON_COMMANDS = {0: GRIPPER, 1: TAKEOVER}


def parse_report(report: bytes | list[int], axes: np.ndarray, buttons: int) -> tuple[np.ndarray, int, list[str]]:
    """Apply one HID report to the current (axes (6,), button bitmask); returns the new ones and commands.

    Device frame to protege's: the SpaceMouse's y points towards the user and z down, so both flip.
    """
    data = bytes(report)
    axes = axes.copy()
    commands: list[str] = []
    if not data:
        return axes, buttons, commands
    rid = data[0]

    def unpack(payload: bytes) -> np.ndarray:
        v = np.asarray(struct.unpack("<3h", payload[:6]), np.float32) / FULL_SCALE
        return np.clip(v * np.array([1, -1, -1], np.float32), -1, 1)

    if rid == 1 and len(data) >= 7:
        axes[:3] = unpack(data[1:7])
        if len(data) >= 13:
            axes[3:] = unpack(data[7:13])
    elif rid == 2 and len(data) >= 7:
        axes[3:] = unpack(data[1:7])
    elif rid == 3 and len(data) >= 2:
        new = int.from_bytes(data[1:3] if len(data) >= 3 else data[1:2], "little")
        for bit, cmd in BUTTON_COMMANDS.items():
            if new & (1 << bit) and not buttons & (1 << bit):
                commands.append(cmd)
        buttons = new
    return axes, buttons, commands


def open_spacemouse() -> ThreadedSource:
    """Find the first SpaceMouse and read it on a background thread."""
    try:
        import hid
    except ImportError:
        raise ProtegeError("spacemouse: expected the optional package hidapi, found it missing "
                           "(pip install hidapi; on Linux also allow access to /dev/hidraw*)") from None
    found = [d for d in hid.enumerate() if d.get("vendor_id") in VENDOR_IDS
             and "space" in (d.get("product_string") or "").lower()]
    if not found:
        raise ProtegeError("spacemouse: expected a connected 3Dconnexion SpaceMouse, found none "
                           "(check the USB connection and /dev/hidraw* permissions)")
    dev = hid.device()
    dev.open_path(found[0]["path"])
    state = {"axes": np.zeros(N_AXES, np.float32), "buttons": 0}

    def read():
        report = dev.read(64, 50)  # 50 ms timeout so the thread notices close()
        if not report:
            return None, None, ()
        state["axes"], state["buttons"], cmds = parse_report(report, state["axes"], state["buttons"])
        return state["axes"], None, cmds

    return ThreadedSource(read, close=dev.close, name="spacemouse")
