"""`protege dagger` end to end (tiny), the ensemble gate with SafeDAgger from Python, one-line errors."""

import json
import subprocess

from protege.algos.bc import TrainConfig
from protege.algos.dagger import DaggerConfig, run_dagger
from protege.policies import MLPConfig


def _run(cmd, *args):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_cli_runs_the_thrifty_gate_and_writes_per_round_records(tmp_path, protege_cmd):
    r = _run(protege_cmd, "dagger", "--task", "pendulum", "--gate", "thrifty", "--rounds", 1,
             "--episodes-per-round", 1, "--demos", 1, "--eval-episodes", 1, "--ensemble-size", 2,
             "--calibration-episodes", 1, "--train.steps", 20, "--mlp.hidden-dims", 16, 16, "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    records = json.loads((tmp_path / "run" / "rounds.json").read_text())
    assert [rec["round"] for rec in records] == [0, 1]
    assert records[0]["expert_labels"] == 200 and records[1]["total_labels"] == 200 + records[1]["expert_labels"]
    assert set(records[1]["gate"]) >= {"novelty_threshold", "risk_threshold"}
    assert (tmp_path / "run" / "rounds" / "round_001" / "member_1" / "model.safetensors").exists()
    assert "| round | expert labels" in r.stdout


def test_unknown_gate_is_a_one_line_error(tmp_path, protege_cmd):
    r = _run(protege_cmd, "dagger", "--task", "pendulum", "--gate", "lazy", "--out", tmp_path / "run")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "--gate" in lines[0] and "found 'lazy'" in lines[0]


def test_safe_ensemble_gate_runs_from_python(tmp_path):
    cfg = DaggerConfig(task="pendulum", gate="ensemble", safe=True, rounds=1, episodes_per_round=1, demos=1,
                       eval_episodes=1, ensemble_size=2, calibration_episodes=1)
    result = run_dagger(cfg, tmp_path / "run", train=TrainConfig(steps=20, eval_every=10),
                        policy_config=MLPConfig(hidden_dims=(16, 16)))
    last = result.records[-1]
    assert last["round"] == 1 and 0 < last["expert_labels"] <= 200
    assert last["interventions"] >= 1 and last["expert_steps"] == last["expert_labels"]
    assert result.learner.size == 2


def test_refused_data_leaves_nothing_and_the_corrected_data_runs(tmp_path, capsys):
    import numpy as np

    from protege.cli import main

    for name, obs_dim, act_dim in (("bad", 4, 2), ("good", 3, 1)):  # pendulum: state float32[3], action float32[1]
        (tmp_path / name).mkdir()
        for i in range(2):
            np.savez(tmp_path / name / f"ep{i}.npz", observations=np.random.rand(20, obs_dim).astype(np.float32),
                     actions=np.random.rand(20, act_dim).astype(np.float32))
    run = tmp_path / "run"
    args = ["dagger", "--task", "pendulum", "--rounds", "0", "--eval-episodes", "1", "--train.steps", "10",
            "--mlp.hidden-dims", "8", "8", "--out", str(run)]
    assert main([*args, "--data", str(tmp_path / "bad")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not fit task pendulum" in lines[0]
    assert not run.exists() or not any(run.iterdir())  # no config.json, no data/
    assert main([*args, "--data", str(tmp_path / "good")]) == 0, capsys.readouterr().err
    assert json.loads((run / "rounds.json").read_text())[0]["episodes"] == 2
