"""`protege record` into an existing folder: resume an interrupted recording, report a complete one, refuse
another recording's folder, and never share a folder with a second writer."""

import json

import numpy as np
import pytest

import protege.recording as recording
from protege.commands.record import Args, run
from protege.data import load_dataset
from protege.data.atomic import FolderLock
from protege.errors import ProtegeError
from protege.recording import record_expert

TASK = "pendulum"


def _same_datasets(a, b):
    da, db = load_dataset(a), load_dataset(b)
    assert len(da) == len(db)
    for x, y in zip(da.episodes, db.episodes):
        assert x.info == y.info
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.observations["state"], y.observations["state"])
    assert json.loads((a / "stats.json").read_text()) == json.loads((b / "stats.json").read_text())
    assert da.meta["provenance"]["episode_seeds"] == db.meta["provenance"]["episode_seeds"]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ds"
    record_expert(TASK, 4, path, seed=3)
    return path


def test_interrupted_recording_resumes_to_the_undisturbed_result(tmp_path, undisturbed, monkeypatch):
    real = recording.run_episodes

    def killed_after_two(task, factory, seeds, **kw):
        real(task, factory, seeds[:2], **kw)
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(recording, "run_episodes", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        record_expert(TASK, 4, tmp_path / "ds", seed=3)
    monkeypatch.undo()
    (tmp_path / "ds" / "stats.json").unlink(missing_ok=True)  # a killed process writes no statistics
    assert len(load_dataset(tmp_path / "ds")) == 2

    said = []
    record_expert(TASK, 4, tmp_path / "ds", seed=3, report=said.append)
    assert said == [f"{tmp_path / 'ds'}: 2 of 4 episodes already recorded with these settings; recording the other 2"]
    _same_datasets(tmp_path / "ds", undisturbed)


def test_more_episodes_extend_a_smaller_dataset_and_a_complete_one_is_reported(tmp_path, undisturbed, capsys):
    record_expert(TASK, 2, tmp_path / "ds", seed=3)
    run(Args(task=TASK, episodes=4, out=tmp_path / "ds", seed=3))
    _same_datasets(tmp_path / "ds", undisturbed)
    before = sorted(p.stat().st_mtime_ns for p in (tmp_path / "ds" / "episodes").iterdir())
    run(Args(task=TASK, episodes=4, out=tmp_path / "ds", seed=3))
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == f"{tmp_path / 'ds'}: 4 of 4 episodes already recorded with these settings; nothing left to record"
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "ds" / "episodes").iterdir()) == before


@pytest.mark.parametrize("kw, field", [({"seed": 4}, "provenance.seed"), ({"noise": 0.1}, "provenance.noise")])
def test_other_settings_are_refused_in_one_line(undisturbed, kw, field):
    with pytest.raises(ProtegeError, match=rf"field '{field}': expected .* to resume, found .*--overwrite") as e:
        record_expert(TASK, 4, undisturbed, **{"seed": 3, **kw})
    assert "\n" not in str(e.value)
    assert len(load_dataset(undisturbed)) == 4


def test_other_task_is_refused(tmp_path):
    from protege.data import save_dataset
    from protege.envs import get_task

    task = get_task(TASK)
    record_expert(TASK, 1, tmp_path / "ds", seed=0)
    data = load_dataset(tmp_path / "ds")
    save_dataset(data.episodes, tmp_path / "other", spec=task.spec, task="someone/else")
    with pytest.raises(ProtegeError, match=r"other: expected a recording of pendulum's expert to resume, "
                                           r"found a dataset of 'someone/else'"):
        record_expert(TASK, 1, tmp_path / "other")


def test_second_writer_is_refused_while_the_folder_is_locked(tmp_path):
    with FolderLock(tmp_path / "ds"):
        with pytest.raises(ProtegeError, match=r"ds: is being written by another process \(pid \d+\)"):
            record_expert(TASK, 1, tmp_path / "ds", overwrite=True)
    assert not (tmp_path / "ds" / "meta.json").exists()
    record_expert(TASK, 1, tmp_path / "ds")  # released: the folder can be written again
    assert len(load_dataset(tmp_path / "ds")) == 1
