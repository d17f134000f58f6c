"""One policy, two Meta-World tasks, from the CLI: record, train (task-conditioned), export (parity per task),
deploy on the simulated robot by task name (checkpoint and exported file), and the one-line refusals."""

import json

import numpy as np
import pytest

from protege.cli import main

pytest.importorskip("metaworld")
TWO = "metaworld/reach,metaworld/drawer-close"


@pytest.fixture(scope="module")
def two_task_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt2")
    assert main(["record", "--task", TWO, "--episodes-per-task", "2", "--out", str(root / "ds")]) == 0
    assert main(["train", "--data", str(root / "ds"), "--out", str(root / "ck"), "--condition", "task",
                 "--condition-fusion", "film", "--balance-tasks", "--steps", "200", "--eval-every", "200",
                 "--mlp.hidden-dims", "64", "64"]) == 0
    return root / "ck"


def _one_line_error(capsys, code):
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("fmt,suffix", [("onnx", "onnx"), ("torchscript", "pt")])
def test_cli_export_then_deploy_by_task_name(fmt, suffix, two_task_checkpoint, tmp_path, capsys):
    model = tmp_path / f"p.{suffix}"
    assert main(["export", "--checkpoint", str(two_task_checkpoint), "--format", fmt, "--out", str(model),
                 "--json", str(tmp_path / "x.json")]) == 0
    report = json.loads((tmp_path / "x.json").read_text())
    assert set(report["per_task_max_abs_diff"]) == {"metaworld/reach", "metaworld/drawer-close"}
    assert report["within_tolerance"] and max(report["per_task_max_abs_diff"].values()) <= 1e-5
    assert "conditioned on task" in capsys.readouterr().out
    for task in ("metaworld/reach", "metaworld/drawer-close"):
        out = tmp_path / f"{task.split('/')[1]}.json"
        assert main(["deploy", "--model", str(model), "--robot", f"sim:{task}", "--task", task, "--hz", "200",
                     "--steps", "12", "--max-obs-age", "0", "--json", str(out)]) == 0
        rec = json.loads(out.read_text())
        assert rec["steps"] == 12 and rec["stop_reason"] == "completed" and rec["condition"] == task
        assert rec["condition_seen"] and rec["inference_calls"] == 12


def test_deploy_a_conditioned_checkpoint_acts_as_eval(two_task_checkpoint, tmp_path):
    """The PyTorch deploy path with --task, and the same actions as the checkpoint's actor told that task."""
    from protege.checkpoint import load_actor
    from protege.deploy import ChunkExecutor, DeployConfig, TorchPredictor, run_deployment
    from protege.checkpoint import load_checkpoint
    from protege.envs.sim_robot import SimRobot

    assert main(["deploy", "--checkpoint", str(two_task_checkpoint), "--robot", "sim:metaworld/drawer-close",
                 "--instruction", "close the drawer", "--hz", "200", "--steps", "8", "--max-obs-age", "0",
                 "--json", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["condition"] == "metaworld/drawer-close"

    class Recorder(SimRobot):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.seen, self.sent = [], []

        def get_observation(self):
            obs = super().get_observation()
            self.seen.append(obs["state"].copy())
            return obs

        def send_action(self, action):
            self.sent.append(np.asarray(action).copy())
            super().send_action(action)

    robot = Recorder("metaworld/reach", seed=1_000_000)
    predictor = TorchPredictor(load_checkpoint(two_task_checkpoint), task="metaworld/reach")
    run_deployment(robot, ChunkExecutor(predictor), DeployConfig(hz=200, steps=6, max_obs_age_s=0))
    actor = load_actor(two_task_checkpoint, task="metaworld/reach")
    expected = [actor.act({"state": s}) for s in robot.seen[:6]]
    other = load_actor(two_task_checkpoint, task="metaworld/drawer-close")
    np.testing.assert_allclose(np.stack(robot.sent[:6]), np.stack(expected), atol=1e-5)
    assert not np.allclose(expected[0], other.act({"state": robot.seen[0]}), atol=1e-4)  # the task matters


def test_deploy_refuses_a_conditioned_policy_without_a_task(two_task_checkpoint, tmp_path, capsys):
    ck = str(two_task_checkpoint)
    err = _one_line_error(capsys, main(["deploy", "--checkpoint", ck, "--robot", "sim:metaworld/reach",
                                        "--steps", "3"]))
    assert "expected --task NAME (one of metaworld/drawer-close, metaworld/reach) or --instruction TEXT" in err
    err = _one_line_error(capsys, main(["deploy", "--checkpoint", ck, "--robot", "sim:metaworld/reach",
                                        "--task", "metaworld/push", "--steps", "3"]))
    assert "'metaworld/push'" in err and "metaworld/reach" in err
    assert main(["export", "--checkpoint", ck, "--out", str(tmp_path / "p.onnx")]) == 0
    capsys.readouterr()
    err = _one_line_error(capsys, main(["deploy", "--model", str(tmp_path / "p.onnx"), "--robot", "sim:metaworld/reach",
                                        "--steps", "3"]))
    assert "is conditioned on tasks: expected --task NAME" in err
    err = _one_line_error(capsys, main(["deploy", "--model", str(tmp_path / "p.onnx"), "--robot",
                                        "sim:metaworld/reach", "--task", "metaworld/push", "--steps", "3"]))
    assert f"model {tmp_path / 'p.onnx'}" in err and "'metaworld/push'" in err


def test_deploy_refuses_a_task_for_a_single_task_policy(mlp_checkpoint, capsys):
    err = _one_line_error(capsys, main(["deploy", "--checkpoint", str(mlp_checkpoint), "--robot", "sim:pendulum",
                                        "--task", "pendulum", "--steps", "3"]))
    assert "--task: expected a task- or instruction-conditioned policy" in err
