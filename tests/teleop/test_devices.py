"""Device mappings from scripted events: keyboard, gamepad, SpaceMouse, profiles, the Supervisor seam."""

import struct
import threading

import numpy as np
import pytest

from protege.actor import Actor, Supervisor
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec
from protege.teleop import DeviceProfile, ScriptedSource, TeleopDevice, default_profile, script
from protege.teleop.gamepad import gamepad_state
from protege.teleop.input import DISCARD, ESTOP, GRIPPER, START, TAKEOVER, InputState, ThreadedSource
from protege.teleop.keyboard import KeyboardSource, ScriptedKeys
from protege.teleop.profile import ActionMapper, apply_dead_zone
from protege.teleop.spacemouse import FULL_SCALE, parse_report

MW = Spec({"state": ArraySpec((39,))}, ArraySpec((4,), low=[-1] * 4, high=[1] * 4), fps=80)
PENDULUM = Spec({"state": ArraySpec((3,))}, ArraySpec((1,), low=[-2.0], high=[2.0]), fps=20)
OBS = {"state": np.zeros(39, np.float32)}


def test_keyboard_moves_the_end_effector_and_toggles_the_gripper():
    keys = ScriptedKeys([({"d", "w"}, []), ({"d", "a", "r"}, ["g"]), (set(), ["b", "x"])])
    dev = TeleopDevice(KeyboardSource(keys), default_profile("keyboard", MW, "metaworld/pick-place"), MW)
    np.testing.assert_allclose(dev.act(OBS), [0.5, 0.5, 0.0, -1.0])  # speed 0.5 of the half-range, gripper open
    np.testing.assert_allclose(dev.act(OBS), [0.0, 0.0, 0.5, 1.0])  # d + a cancel; g closed the gripper
    state = dev.poll()
    assert state.commands == (START, DISCARD)
    np.testing.assert_allclose(dev.act(OBS), [0.0, 0.0, 0.0, 1.0])  # the gripper stays closed


def test_keyboard_drives_pendulum_torque_in_newton_metres():
    keys = ScriptedKeys([({"d"}, []), ({"a"}, [])])
    profile = DeviceProfile("keyboard", axis_map=(0,), signs=(-1.0,), dead_zone=0.0, speed_scale=0.75)
    dev = TeleopDevice(KeyboardSource(keys), profile, PENDULUM)
    assert dev.act({"state": np.zeros(3)}) == pytest.approx([-1.5])  # sign flipped, 0.75 * 2 N m
    assert dev.act({"state": np.zeros(3)}) == pytest.approx([1.5])


def test_dead_zone_is_continuous_and_speed_scales():
    x = np.array([0.05, -0.1, 0.55, -1.0], np.float32)
    np.testing.assert_allclose(apply_dead_zone(x, 0.1), [0.0, 0.0, 0.5, -1.0], atol=1e-6)
    profile = DeviceProfile("gamepad", axis_map=(0, 1, 2, -1), signs=(1, -1, 1, 1), dead_zone=0.1, speed_scale=0.4)
    a = ActionMapper(profile, MW)(InputState(axes=np.array([0.55, 0.55, 0.05, 0, 0, 0], np.float32), gripper=True))
    np.testing.assert_allclose(a, [0.2, -0.2, 0.0, 1.0], atol=1e-6)


def test_gamepad_axes_and_buttons():
    # left stick right and pushed forward (SDL y points down), right stick up, A and start pressed
    s = gamepad_state([0.8, -1.0, 0.0, -0.5, -1.0, -1.0], [True, False, False, False, False, False, False, True],
                      previous=[False] * 8)
    np.testing.assert_allclose(s.axes[:3], [0.8, 1.0, 0.5])
    assert s.commands == (GRIPPER, START)
    held = gamepad_state([0.0] * 6, [True] + [False] * 7, previous=[True] + [False] * 7)
    assert held.commands == ()  # a held button fires once, on press
    chord = gamepad_state([0.0] * 6, [False] * 4 + [True, True, False, False], previous=[False] * 4 + [True] + [False] * 3)
    assert ESTOP in chord.commands


def test_spacemouse_reports():
    axes = np.zeros(6, np.float32)
    report = bytes([1]) + struct.pack("<3h", int(FULL_SCALE), -int(FULL_SCALE) // 2, 1000)
    axes, buttons, cmds = parse_report(report, axes, 0)
    np.testing.assert_allclose(axes[:3], [1.0, 0.5, -1.0], atol=1e-3)  # y and z flipped, clipped
    axes, buttons, cmds = parse_report(bytes([2]) + struct.pack("<3h", 0, 0, 175), axes, buttons)
    assert axes[5] == pytest.approx(-0.5, abs=1e-3)
    _, buttons, cmds = parse_report(bytes([3, 0b10, 0]), axes, buttons)
    assert cmds == [TAKEOVER]
    _, buttons, cmds = parse_report(bytes([3, 0b11, 0]), axes, buttons)
    assert cmds == [GRIPPER]  # only the newly pressed button fires


def test_threaded_source_never_waits_for_the_device():
    release, seen = threading.Event(), threading.Event()
    calls = {"n": 0}

    def read():
        calls["n"] += 1
        if calls["n"] == 1:
            return np.array([0.3, 0, 0, 0, 0, 0]), None, [START]
        seen.set()
        release.wait()  # the device goes silent
        return None, None, ()

    src = ThreadedSource(read)
    assert seen.wait(5)
    first = src.poll()  # answered while the reader is blocked inside the device
    assert first.axes[0] == pytest.approx(0.3) and first.commands == (START,)
    assert src.poll().commands == ()  # commands are handed out once
    release.set()
    src.close()


def test_person_is_a_supervisor_that_takes_over_and_hands_back():
    states = script([(2, TAKEOVER), (2, (0.0, 1.0)), (4, TAKEOVER)], length=6)
    dev = TeleopDevice(ScriptedSource(states), default_profile("scripted", MW, "metaworld/reach"), MW)
    assert isinstance(dev, Supervisor) and isinstance(dev, Actor)
    wants = []
    for _ in range(6):
        w = dev.wants_control(OBS, np.zeros(4, np.float32))
        if w:
            np.testing.assert_allclose(dev.act(OBS)[:2], [0.0, 1.0])  # same reading as the gate's
        wants.append(w)
    assert wants == [False, False, True, True, False, False]


def test_takeover_on_motion():
    states = script([(1, (0.5,)), (2, (0.0,))], length=3)
    dev = TeleopDevice(ScriptedSource(states), default_profile("scripted", PENDULUM), PENDULUM, takeover_on_motion=True)
    assert [dev.wants_control(OBS, np.zeros(1)) for _ in range(3)] == [False, True, False]


def test_profile_round_trip_and_errors(tmp_path):
    p = DeviceProfile("spacemouse", axis_map=(0, 1, 2, -1), signs=(1, -1, 1, 1), dead_zone=0.2, speed_scale=0.3)
    assert DeviceProfile.load(p.save(tmp_path / "p.json")) == p
    (tmp_path / "bad.json").write_text('{"device": "keyboard", "axis_map": [0], "signs": [2.0]}')
    with pytest.raises(ProtegeError, match=r"bad\.json: field 'signs': expected \+1 or -1"):
        DeviceProfile.load(tmp_path / "bad.json")
    with pytest.raises(ProtegeError, match=r"field 'axis_map': expected 4 entries"):
        TeleopDevice(ScriptedSource([]), DeviceProfile("keyboard", axis_map=(0,), signs=(1,)), MW)


def test_missing_hardware_libraries_give_one_line_errors(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_hw(name, *a, **k):
        if name in ("pygame", "hid"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_hw)
    from protege.teleop.gamepad import GamepadSource
    from protege.teleop.spacemouse import open_spacemouse

    with pytest.raises(ProtegeError, match="gamepad: expected the optional package pygame, found it missing"):
        GamepadSource()
    with pytest.raises(ProtegeError, match="spacemouse: expected the optional package hidapi, found it missing"):
        open_spacemouse()


def test_pygame_window_is_a_view_and_a_keyboard(monkeypatch):
    pygame = pytest.importorskip("pygame")  # optional extra: `pip install -e ".[teleop]"`
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    from protege.teleop.view import PygameWindow

    window = PygameWindow(size=64)
    try:
        window.show(np.full((32, 32, 3), 200, np.uint8), "REC")
        source = KeyboardSource(window)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_w))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_y))
        state = source.poll()
        assert state.axes[1] == 1.0 and state.commands == ("success",)
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_w))
        assert source.poll().axes[1] == 0.0  # released: true key-up, unlike a terminal
    finally:
        window.close()
