"""DAgger started from a task-conditioned checkpoint (one policy for two Meta-World tasks) on one of its
tasks: round 0 is the checkpoint itself, later rounds keep its vocabulary, new episodes are tagged for it;
an unknown task and an ensemble gate are refused in one line before anything is written."""

import json

import numpy as np
import pytest

from protege.algos.bc import TrainConfig
from protege.algos.dagger import DaggerConfig, run_dagger
from protege.cli import main
from protege.data.native import load_dataset
from protege.envs.metaworld_sets import INSTRUCTIONS

pytest.importorskip("metaworld")
TWO = "metaworld/reach,metaworld/drawer-close"
TASKS = ["metaworld/drawer-close", "metaworld/reach"]


@pytest.fixture(scope="module")
def mt2(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt2dagger")
    assert main(["record", "--task", TWO, "--episodes-per-task", "2", "--out", str(root / "ds")]) == 0
    assert main(["train", "--data", str(root / "ds"), "--out", str(root / "ck"), "--condition", "task",
                 "--steps", "200", "--eval-every", "200", "--mlp.hidden-dims", "64", "64"]) == 0
    return root


def test_cli_dagger_from_a_conditioned_checkpoint_on_one_task(mt2, tmp_path, capsys):
    from protege.checkpoint import PolicyActor, load_checkpoint

    run = tmp_path / "run"
    assert main(["dagger", "--task", "metaworld/reach", "--init", str(mt2 / "ck"), "--data", str(mt2 / "ds"),
                 "--rounds", "1", "--episodes-per-round", "1", "--eval-episodes", "1", "--train.steps", "30",
                 "--train.eval-every", "30", "--out", str(run)]) == 0
    assert "starting from" in capsys.readouterr().out
    records = json.loads((run / "rounds.json").read_text())
    assert [r["round"] for r in records] == [0, 1]
    # round 0's learner is the checkpoint itself, copied, not retrained
    r0 = run / "rounds" / "round_000"
    assert (r0 / "model.safetensors").read_bytes() == (mt2 / "ck" / "model.safetensors").read_bytes()
    # the round-1 learner is still one policy for both tasks (the vocabulary kept, both tasks in the aggregate)
    learner = load_checkpoint(run / "rounds" / "round_001")
    assert learner.conditioning.tasks == TASKS and learner.conditioning.kind == "task"
    x = {"state": np.zeros(39, np.float32)}
    acts = [PolicyActor(learner, task=t).act(x) for t in TASKS]
    assert np.all(np.isfinite(acts)) and not np.allclose(acts[0], acts[1], atol=1e-4)
    collected = [e for e in load_dataset(run / "data").episodes if e.info.get("round") == 1]
    assert len(collected) == 1 and collected[0].info["task"] == "metaworld/reach"
    assert collected[0].info["instruction"] == INSTRUCTIONS["reach"]
    # the other task's demonstrations stayed in the aggregate (from --data)
    assert {e.info["task"] for e in load_dataset(run / "data").episodes} == set(TASKS)
    # one more round resumes the run: the learner of round 1 is loaded, told its task again
    assert main(["dagger", "--task", "metaworld/reach", "--init", str(mt2 / "ck"), "--data", str(mt2 / "ds"),
                 "--rounds", "2", "--episodes-per-round", "1", "--eval-episodes", "1", "--train.steps", "30",
                 "--train.eval-every", "30", "--out", str(run)]) == 0
    assert [r["round"] for r in json.loads((run / "rounds.json").read_text())] == [0, 1, 2]
    assert (r0 / "model.safetensors").read_bytes() == (mt2 / "ck" / "model.safetensors").read_bytes()


def test_recorded_demonstrations_are_tagged_for_the_checkpoint(mt2, tmp_path):
    """Without --data, round 0's demonstrations are recorded for the run's task and tagged with the
    checkpoint's instruction, so training keeps the two-task vocabulary."""
    cfg = DaggerConfig(task="metaworld/drawer-close", init=str(mt2 / "ck"), rounds=1, episodes_per_round=1, demos=1,
                       eval_episodes=1)
    result = run_dagger(cfg, tmp_path / "run", train=TrainConfig(steps=20, eval_every=20))
    assert [r["round"] for r in result.records] == [0, 1]
    eps = load_dataset(tmp_path / "run" / "data").episodes
    assert {(e.info["task"], e.info["instruction"]) for e in eps} == {("metaworld/drawer-close", "close the drawer")}
    assert result.learner.task == "metaworld/drawer-close"
    assert result.learner.policies[0].conditioning.tasks == TASKS


def test_unknown_task_and_ensemble_gates_are_refused_before_any_work(mt2, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["dagger", "--task", "metaworld/push", "--init", str(mt2 / "ck"), "--rounds", "1", "--out", str(run)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "'metaworld/push'" in lines[0] and "metaworld/reach" in lines[0]
    assert not run.exists()
    code = main(["dagger", "--task", "metaworld/reach", "--init", str(mt2 / "ck"), "--gate", "thrifty",
                 "--out", str(run)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--init: expected --gate dagger or hg" in lines[0]
    assert not run.exists()


def test_a_conditioned_checkpoint_labels_as_the_runs_task(mt2):
    from protege.algos.dagger.loop import make_expert
    from protege.envs import get_task

    task = get_task("metaworld/reach")
    expert = make_expert(DaggerConfig(task=task.name, expert=str(mt2 / "ck")), task)
    assert expert.condition.text == "metaworld/reach"
