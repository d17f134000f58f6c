"""Multi-task recording: MT10 resolves to ten tasks, one dataset tagged per episode, resumed per task;
`protege eval` on a task set prints a per-task table and the mean."""

import json

import pytest

from protege.cli import main
from protege.data.native import load_dataset
from protege.envs.metaworld_sets import INSTRUCTIONS, TASK_SETS, resolve_tasks
from protege.errors import ProtegeError
from protege.recording import record_tasks

pytest.importorskip("metaworld")
TWO = "metaworld/reach,metaworld/drawer-close"


def test_task_sets_resolve():
    assert len(resolve_tasks("metaworld/MT10")) == 10 and len(resolve_tasks("metaworld/MT50")) == 50
    assert resolve_tasks(TWO) == ["metaworld/reach", "metaworld/drawer-close"]
    assert all(t.split("/")[1] in INSTRUCTIONS for t in TASK_SETS["metaworld/MT50"])
    with pytest.raises(ProtegeError, match="did you mean"):
        resolve_tasks("metaworld/reach,metaworld/rech")


def test_record_tasks_tags_and_resumes(tmp_path, capsys):
    record_tasks(TWO, 1, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert [(e.info["task"], e.info["instruction"]) for e in ds.episodes] == [
        ("metaworld/reach", "reach to the goal position"), ("metaworld/drawer-close", "close the drawer")]
    assert ds.meta["tasks"] == resolve_tasks(TWO) and ds.meta["seeds_done_per_task"] == {t: 1 for t in ds.meta["tasks"]}
    lines = []
    record_tasks(TWO, 2, tmp_path / "ds", report=lines.append)  # one more per task, the first ones kept
    ds = load_dataset(tmp_path / "ds")
    assert "2 of 4 episodes already recorded" in lines[0]
    assert sorted((e.info["task"], e.info["seed"]) for e in ds.episodes) == sorted(
        (t, s) for t in resolve_tasks(TWO) for s in (0, 1))
    with pytest.raises(ProtegeError, match="provenance.noise"):
        record_tasks(TWO, 2, tmp_path / "ds", noise=0.1)
    assert main(["record", "--task", TWO, "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--episodes-per-task" in capsys.readouterr().err


def test_eval_on_a_task_set_prints_a_table(tmp_path, capsys):
    code = main(["eval", "--expert", "--task", TWO, "--episodes", "1", "--json", str(tmp_path / "e.json")])
    out = capsys.readouterr().out
    assert code == 0 and "metaworld/reach" in out and "mean" in out
    rec = json.loads((tmp_path / "e.json").read_text())
    assert set(rec["per_task"]) == set(resolve_tasks(TWO)) and 0 <= rec["mean_success"] <= 1
