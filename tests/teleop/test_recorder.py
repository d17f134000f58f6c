"""The recorder with a scripted person: keys, atomic episodes, a kill, interventions, kinesthetic mode."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from protege.data import SOURCE_HUMAN, SOURCE_POLICY, load_dataset
from protege.envs import get_task
from protege.evaluation.rollout import record_seeds
from protege.teleop import ScriptedSource, TeleopDevice, default_profile, script
from protege.teleop.input import DISCARD, QUIT, START, STOP, SUCCESS, TAKEOVER
from protege.teleop.recorder import SessionConfig, record_session


def _device(task, events, length):
    return TeleopDevice(ScriptedSource(script(events, length)), default_profile("scripted", task.spec, task.name),
                        task.spec)


def test_keys_start_stop_discard_and_mark(tmp_path):
    task = get_task("pendulum")
    events = [(0, START), (0, (0.5,)), (10, STOP), (12, START), (20, DISCARD), (22, START), (25, SUCCESS),
              (30, STOP), (31, QUIT)]
    result = record_session(task, _device(task, events, 40), tmp_path / "ds", SessionConfig(realtime=False))
    assert len(result.kept) == 2 and result.discarded == 1
    files = sorted(os.listdir(tmp_path / "ds" / "episodes"))
    assert files == ["000000.npz", "000001.npz"]  # the discarded episode left nothing, not even a temporary file
    ds = load_dataset(tmp_path / "ds")
    first, second = ds.episodes
    assert len(first) == 10 and len(second) == 8
    np.testing.assert_allclose(first.actions, 1.0)  # half deflection of a +-2 N m range, speed scale 1
    assert (first.source == SOURCE_HUMAN).all() and first.labels is None
    assert second.success and second.info["marked_success"]
    assert first.observations["state"].shape == (11, 3)  # the final observation is kept
    seeds = record_seeds(0, 3)
    assert [e.info["seed"] for e in ds.episodes] == [seeds[0], seeds[2]]  # the discarded one used seeds[1]


def test_an_episode_ends_itself_at_the_horizon_and_is_kept(tmp_path):
    task = get_task("pendulum")
    result = record_session(task, _device(task, [(0, START)], 1), tmp_path / "ds",
                            SessionConfig(episodes=1, realtime=False))
    ep = load_dataset(tmp_path / "ds").episodes[0]
    assert len(result.kept) == 1 and len(ep) == task.horizon


def test_a_kill_keeps_earlier_episodes_loadable(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal
        from protege.envs import get_task
        from protege.teleop import ScriptedSource, TeleopDevice, default_profile, script
        from protege.teleop.recorder import SessionConfig, record_session
        task = get_task("pendulum")
        events = [(0, "start"), (0, (0.3,)), (5, "stop"), (6, "start"), (12, "stop"), (13, "start")]
        def crash(i):
            if i == 20:  # in the middle of the third episode
                os.kill(os.getpid(), signal.SIGKILL)
        src = ScriptedSource(script(events, 40), on_poll=crash)
        dev = TeleopDevice(src, default_profile("scripted", task.spec), task.spec)
        record_session(task, dev, {str(tmp_path / "ds")!r}, SessionConfig(realtime=False))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    ds = load_dataset(tmp_path / "ds")
    assert [len(e) for e in ds.episodes] == [5, 6]


class ConstantPolicy:
    name = "constant"

    def reset(self):
        pass

    def act(self, obs):
        return np.array([-0.5], np.float32)


def test_intervention_hand_over_marks_steps(tmp_path):
    task = get_task("pendulum")
    events = [(0, START), (3, TAKEOVER), (3, (1.0,)), (6, TAKEOVER), (6, (0.0,)), (9, STOP), (10, QUIT)]
    result = record_session(task, _device(task, events, 12), tmp_path / "ds", SessionConfig(realtime=False),
                            policy=ConstantPolicy())
    ep = load_dataset(tmp_path / "ds").episodes[0]
    human = np.array([False] * 3 + [True] * 3 + [False] * 3)
    np.testing.assert_array_equal(ep.intervened, human)
    np.testing.assert_array_equal(ep.source, np.where(human, SOURCE_HUMAN, SOURCE_POLICY))
    np.testing.assert_allclose(ep.actions[:, 0], np.where(human, 2.0, -0.5))
    np.testing.assert_array_equal(ep.label_mask, human)  # the person's actions are the labels, for HG-DAgger
    np.testing.assert_allclose(ep.labels[human, 0], 2.0)
    assert result.interventions == 1


def test_kinesthetic_infers_the_hidden_hand_actions():
    from protege.teleop.kinesthetic import calibrate, guide_by_hand

    task = get_task("pendulum")
    model = calibrate(task, episodes=5, seed=0)
    states, hidden, _ = guide_by_hand(task, task.make_expert(), seed=7)
    inferred = model.infer(states)
    assert inferred.shape == hidden.shape
    assert np.abs(inferred - hidden).mean() < 0.05  # N m, on a +-2 N m range


def test_kinesthetic_end_effector_motion_on_metaworld(tmp_path):
    from protege.teleop.kinesthetic import calibrate, guide_by_hand, record_kinesthetic

    task = get_task("metaworld/reach")
    model = calibrate(task, episodes=8, steps=120, seed=0)
    states, hidden, _ = guide_by_hand(task, task.make_expert(), seed=3)
    inferred = model.infer(states)
    error = np.abs(inferred[:, :3] - hidden[:, :3]).mean()  # x, y, z end-effector deltas
    assert error < 0.1 and error < 0.3 * np.abs(hidden[:, :3]).mean()  # far better than guessing "no motion"
    record_kinesthetic(task, task.make_expert(), 1, tmp_path / "kin", model=model)
    ep = load_dataset(tmp_path / "kin").episodes[0]
    assert (ep.source == SOURCE_HUMAN).all() and ep.info["kinesthetic"]


def test_offscreen_live_view_writes_frames(tmp_path, needs_gl):
    import imageio.v2 as iio

    from protege.teleop.view import OffscreenView

    task = get_task("metaworld/reach")
    view = OffscreenView(tmp_path / "live.png", every_s=0.0)
    events = [(0, START), (0, (0.0, 0.0, 1.0)), (6, STOP), (7, QUIT)]
    result = record_session(task, _device(task, events, 10), tmp_path / "ds",
                            SessionConfig(realtime=False, view_hz=task.fps / 3), view=view)
    assert result.view_error is None and view.frames_written >= 2
    frame = iio.imread(tmp_path / "live.png")
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0  # a real picture, not a blank
    assert len(load_dataset(tmp_path / "ds").episodes[0]) == 6
