"""Deploy smoke tests: a trained policy on the simulated robot, from PyTorch and from an ONNX file, and the CLI."""

import json
import subprocess

import numpy as np
import pytest

from protege.deploy import ChunkExecutor, DeployConfig, ExportedPredictor, Robot, TorchPredictor, run_deployment
from protege.envs.sim_robot import SimRobot, make_robot
from protege.errors import ProtegeError


def test_sim_robot_is_a_robot_and_resets_between_episodes():
    robot = SimRobot("pendulum", seed=3)
    assert isinstance(robot, Robot)
    robot.connect()
    obs = robot.get_observation()
    assert obs["state"].shape == (3,) and "timestamp" in obs
    for _ in range(robot.task.horizon + 5):
        robot.send_action(np.zeros(1, np.float32))
    robot.disconnect()
    assert robot.episodes == 1 and robot.actions_sent == robot.task.horizon + 5


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_deploy_runs_a_checkpoint_at_a_fixed_rate(backend, mlp_checkpoint, tmp_path):
    from protege.checkpoint import load_checkpoint
    from protege.deploy.export import export_policy
    from protege.deploy.exported import load_exported

    policy = load_checkpoint(mlp_checkpoint)
    if backend == "torch":
        predictor = TorchPredictor(policy)
    else:
        export_policy(policy, tmp_path / "p.onnx")
        predictor = ExportedPredictor(load_exported(tmp_path / "p.onnx"))
    robot = SimRobot("pendulum", seed=1_000_000)
    report = run_deployment(robot, ChunkExecutor(predictor), DeployConfig(hz=200, steps=40))
    assert report.stop_reason == "completed" and report.steps == 40
    assert report.inference_calls == 40 and robot.actions_sent == 41  # 40 steps + the final safe action
    assert np.isfinite(report.step_latency_ms["p99"]) and 0 <= report.miss_fraction <= 1
    np.testing.assert_array_equal(robot.last_action, [0.0])  # stopped with zero torque
    # the simulated robot stamps its observations, so the time from a reading to its action is measured:
    # positive, and no longer than a whole step (which also covers stepping the simulation)
    o2a = report.observation_to_action_ms
    assert 0 < o2a["median"] <= report.step_latency_ms["max"] and "observation-to-action" in report.format()


def test_robot_spec_must_be_sim():
    with pytest.raises(ProtegeError, match="field 'robot': expected sim:TASK"):
        make_robot("ur5:192.168.0.2")


def _run(cmd, *args):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_export_then_deploy(mlp_checkpoint, tmp_path, protege_cmd):
    r = _run(protege_cmd, "export", "--checkpoint", mlp_checkpoint, "--format", "onnx", "--out", tmp_path / "p.onnx",
             "--json", tmp_path / "x.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "x.json").read_text())["max_abs_diff"] <= 1e-5
    r = _run(protege_cmd, "deploy", "--model", tmp_path / "p.onnx", "--robot", "sim:pendulum", "--hz", 100,
             "--steps", 30, "--max-delta", 0.5, "--json", tmp_path / "d.json")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "d.json").read_text())
    assert out["steps"] == 30 and out["stop_reason"] == "completed" and "p99" in out["inference_ms"]


def test_deploy_refuses_a_checkpoint_that_does_not_fit_the_robot(mlp_checkpoint):
    from protege.commands import deploy

    with pytest.raises(ProtegeError, match=r"does not fit robot sim:metaworld/reach: expected .*float32\[3\]"):
        deploy.run(deploy.Args(robot="sim:metaworld/reach", checkpoint=mlp_checkpoint, steps=5))


def test_cli_teleop(tmp_path, protege_cmd):
    from protege.commands import teleop

    with pytest.raises(ProtegeError, match="keyboard: expected an interactive terminal"):  # stdin is not a tty here
        teleop.run(teleop.Args(task="pendulum", out=tmp_path / "t", view="none"))
    r = _run(protege_cmd, "teleop", "--task", "pendulum", "--out", tmp_path / "k", "--kinesthetic", "--episodes", 2)
    assert r.returncode == 0, r.stderr
    assert "wrote 2 hand-guided episodes" in r.stdout


def test_deploy_imports_neither_training_code_nor_simulators():
    import sys

    code = ("import sys, protege.deploy, protege.deploy.exported\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'gymnasium', 'metaworld', 'mujoco')\n"
            "       or m.startswith(('protege.algos', 'protege.envs', 'protege.policies', 'protege.data'))]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("flag, value", [("--steps", -1), ("--hz", 0), ("--max-delta", -0.1), ("--max-obs-age", -1),
                                         ("--rt-priority", 100)])
def test_invalid_numeric_deploy_flags_are_one_line_errors(flag, value, mlp_checkpoint, protege_cmd):
    r = _run(protege_cmd, "deploy", "--checkpoint", mlp_checkpoint, "--robot", "sim:pendulum", flag, value)
    assert r.returncode != 0 and "completed" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{flag}: expected" in lines[0], r.stderr


def test_invalid_export_tolerance_is_a_one_line_error(mlp_checkpoint, tmp_path, protege_cmd):
    r = _run(protege_cmd, "export", "--checkpoint", mlp_checkpoint, "--out", tmp_path / "p.onnx", "--tolerance", -1)
    assert r.returncode != 0 and r.stderr.strip().splitlines() == [r.stderr.strip()] and "--tolerance" in r.stderr
    assert not (tmp_path / "p.onnx").exists()


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_deploy_through_the_safe_stop(sig, mlp_checkpoint, tmp_path, protege_cmd):
    import signal
    import time

    proc = subprocess.Popen([*protege_cmd, "deploy", "--checkpoint", str(mlp_checkpoint), "--robot", "sim:pendulum",
                             "--hz", "50", "--json", str(tmp_path / "d.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "deploying" in proc.stdout.readline()  # handlers are in place from this line on
        time.sleep(1.0)  # let it run some steps
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["stop_reason"] == f"interrupted ({sig})" and report["steps"] > 0
    assert report["final_action"] == [0.0] and report["disconnected"]  # centre action sent, then disconnected
    assert f"stopped: interrupted ({sig})" in out  # and the report printed
