"""Every safety rule triggers on a hand-made fault, and every stop ends with the safe action and a disconnect."""

import threading
import time

import numpy as np
import pytest

from protege.controller import ExecutionSettings
from protege.deploy import ChunkExecutor, DeployConfig, SafetyConfig, SafetyFilter, SafetyStop, run_deployment
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((2,))}, ArraySpec((2,), low=[-1, -2], high=[1, 2]))


class FakeRobot:
    """Records what it is sent; `fault(step)` may corrupt the observation's timestamp or raise."""

    def __init__(self, fault=None):
        self.spec, self.sent, self.fault = SPEC, [], fault
        self.connected = self.disconnected = False
        self.reads = 0

    def connect(self):
        self.connected = True

    def get_observation(self):
        self.reads += 1
        ts = time.monotonic()
        if self.fault is not None:
            ts = self.fault(self.reads, ts)
        obs = {"state": np.zeros(2, np.float32)}
        return obs if ts is None else {**obs, "timestamp": np.float64(ts)}

    def send_action(self, a):
        self.sent.append(np.array(a))

    def disconnect(self):
        self.disconnected = True


class ListPredictor:
    """Returns the scripted actions one per call (single-step head)."""

    obs_keys, settings, normal, name = ["state"], ExecutionSettings(), None, "list"

    def __init__(self, actions):
        self.actions = [np.asarray(a, np.float32) for a in actions]
        self.i = 0

    def predict(self, history, noise):
        a = self.actions[min(self.i, len(self.actions) - 1)]
        self.i += 1
        return a[None, None]


def deploy(actions, fault=None, steps=10, estop=None, **cfg):
    robot = FakeRobot(fault)
    ex = ChunkExecutor(ListPredictor(actions))
    report = run_deployment(robot, ex, DeployConfig(hz=500, steps=steps, **cfg), estop=estop)
    return robot, report


def test_a_nan_action_stops_the_robot_safely():
    robot, report = deploy([[0.1, 0.2], [0.1, 0.2], [np.nan, 0.0], [0.5, 0.5]])
    assert report.stop_reason.startswith("non-finite action") and report.steps == 2
    assert all(np.isfinite(a).all() for a in robot.sent)
    np.testing.assert_array_equal(robot.sent[-1], [0.0, 0.0])  # the safe action: centre of the bounds
    assert robot.disconnected


def test_an_infinite_action_stops_too():
    _, report = deploy([[0.0, np.inf]])
    assert report.stop_reason.startswith("non-finite action") and report.steps == 0


def test_a_stale_observation_trips_the_watchdog():
    # from the 5th read on, the robot keeps answering with a 1 s old measurement
    robot, report = deploy([[0.1, 0.1]], fault=lambda i, ts: ts - 1.0 if i >= 5 else ts, max_obs_age_s=0.1)
    assert report.stop_reason.startswith("stale observation") and report.steps == 4  # reads 1-4 were fresh
    np.testing.assert_array_equal(robot.sent[-1], [0.0, 0.0])
    assert robot.disconnected


def test_an_observation_without_timestamp_stops_before_moving_unless_the_watchdog_is_off():
    robot, report = deploy([[0.1, 0.1]], fault=lambda i, ts: None)
    assert report.stop_reason.startswith("observation without timestamp") and report.steps == 0
    assert "--max-obs-age 0" in report.stop_reason
    assert len(robot.sent) == 1 and robot.disconnected  # only the safe action
    np.testing.assert_array_equal(robot.sent[-1], [0.0, 0.0])
    # a robot that cannot stamp its readings runs with the watchdog off, explicitly
    _, report = deploy([[0.1, 0.1]], fault=lambda i, ts: None, steps=3, max_obs_age_s=0)
    assert report.stop_reason == "completed" and report.steps == 3


def test_oversize_steps_are_clamped_to_bounds_and_rate_limited():
    robot, report = deploy([[0.0, 0.0], [5.0, -5.0], [5.0, -5.0], [5.0, -5.0]], steps=4, max_delta=0.4)
    sent = np.stack(robot.sent[:4])
    np.testing.assert_allclose(sent, [[0, 0], [0.4, -0.4], [0.8, -0.8], [1.0, -1.2]], atol=1e-6)
    assert np.abs(np.diff(sent, axis=0)).max() <= 0.4 + 1e-6
    assert report.clamped_steps == 3 and report.rate_limited_steps == 3


def test_emergency_stop_and_ctrl_c():
    stop = threading.Event()
    calls = {"n": 0}

    def pressed():
        calls["n"] += 1
        return calls["n"] > 3

    _, report = deploy([[0.1, 0.1]], estop=pressed)
    assert report.stop_reason.startswith("emergency stop") and report.steps == 3

    def interrupt(i, ts):
        if i == 4:
            raise KeyboardInterrupt
        return ts

    robot, report = deploy([[0.1, 0.1]], fault=interrupt)
    assert report.stop_reason == "interrupted (Ctrl-C)" and robot.disconnected
    np.testing.assert_array_equal(robot.sent[-1], [0.0, 0.0])
    assert not stop.is_set()


def test_filter_refuses_to_clamp_nan_into_range():
    f = SafetyFilter(SPEC, SafetyConfig())
    with pytest.raises(SafetyStop, match=r"action\[1\] = nan"):
        f.check(np.array([0.0, np.nan]))


def test_realtime_request_leaves_ordinary_scheduling_behind():
    import os

    _, report = deploy([[0.1, 0.1]], steps=3, realtime_priority=10)
    assert report.steps == 3
    if hasattr(os, "sched_getscheduler"):
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # raised for the loop only (or refused), then restored


@pytest.mark.parametrize("field, value", [("steps", -1), ("hz", 0.0), ("max_delta", -1.0), ("max_obs_age_s", -0.5)])
def test_deploy_config_refuses_values_out_of_range(field, value):
    from protege.errors import ProtegeError

    with pytest.raises(ProtegeError, match=f"deploy config: field '{field}': expected"):
        DeployConfig(**{field: value})
