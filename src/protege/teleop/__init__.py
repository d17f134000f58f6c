"""Teleoperation: input devices (keyboard, gamepad, SpaceMouse, scripted), profiles, the recorder for
demonstrations and interventions, and kinesthetic teaching. Hardware libraries load only when a device
that needs them is opened."""

from protege.teleop.device import DEVICES, TeleopDevice, open_device
from protege.teleop.input import InputState, ScriptedSource, script
from protege.teleop.profile import DeviceProfile, default_profile

__all__ = ["DEVICES", "TeleopDevice", "open_device", "InputState", "ScriptedSource", "script", "DeviceProfile",
           "default_profile"]
