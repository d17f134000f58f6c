"""Every rollout's video: `evaluate(videos=DIR)` / `protege eval --videos DIR` film each episode in the worker
that runs it and write one mp4 per episode, named by index, seed and outcome."""

import json

import numpy as np
from _eval_actors import SomeFail

from protege.envs import get_task
from protege.envs.bimodal import BimodalEnv
from protege.evaluation.evaluate import episode_video_name, evaluate
from protege.evaluation.video import read_video


def test_every_episode_is_filmed_by_the_worker_that_ran_it(tmp_path, monkeypatch):
    task = get_task("bimodal")
    here = evaluate(task, SomeFail, episodes=6, seed=0, videos=tmp_path / "here")
    outcomes = [r.success for r in here.results]
    assert 0 < sum(outcomes) < 6, outcomes  # both kinds, so the names and the viewer's order mean something

    # worker processes: this process cannot render at all, so every frame comes from the workers
    def no_render(self):
        raise AssertionError("rendered in the calling process")

    monkeypatch.setattr(BimodalEnv, "render", no_render)
    stale = tmp_path / "workers" / episode_video_name(0, here.seeds[0], not outcomes[0], 6)
    stale.parent.mkdir()
    stale.write_bytes(b"an earlier evaluation's video of seed 0 with the other outcome")
    workers = evaluate(task, SomeFail, episodes=6, seed=0, workers=2, videos=tmp_path / "workers")
    assert not stale.exists()  # one seed never shows twice

    assert [(r.seed, r.success, r.length) for r in workers.results] == [(r.seed, r.success, r.length) for r in here.results]
    expected = [episode_video_name(i, r.seed, r.success, 6) for i, r in enumerate(here.results)]
    assert expected[0] == f"000-seed{here.seeds[0]}-{'success' if outcomes[0] else 'failure'}.mp4"
    for run, folder in ((here, "here"), (workers, "workers")):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == sorted(expected)
        assert run.videos == [str(tmp_path / folder / n) for n in expected]
        assert all(r.video is None for r in run.results)  # written to disk, not kept in memory
        assert [row["video"] for row in run.to_dict()["per_episode"]] == run.videos
    for r, a, b in zip(here.results, here.videos, workers.videos):
        fa, fb = read_video(a), read_video(b)
        assert len(fa) == len(fb) == r.length + 1  # the frame at reset, then one per step
        assert fa[0].shape == (160, 160, 3)
        assert np.abs(fa[-1].astype(int) - fb[-1].astype(int)).mean() < 2  # the same episode
        assert np.abs(fa[0].astype(int) - fa[-1].astype(int)).max() > 100  # the robot moved


def test_cli_writes_every_video_and_names_them_in_the_json(tmp_path, capsys):
    from protege.cli import main

    out = tmp_path / "ev"
    assert main(["eval", "--expert", "--task", "bimodal", "--episodes", "3", "--workers", "2",
                 "--videos", str(out / "videos"), "--json", str(out / "eval.json")]) == 0
    assert "videos: 3 in" in capsys.readouterr().out
    rows = json.loads((out / "eval.json").read_text())["per_episode"]
    assert [row["video"] for row in rows] == [str(out / "videos" / episode_video_name(i, row["seed"], row["success"], 3))
                                              for i, row in enumerate(rows)]
    assert all(len(read_video(row["video"])) == row["length"] + 1 for row in rows)
    # a task set runs each task on its own: one folder of videos per evaluation is refused in one line
    assert main(["eval", "--expert", "--task", "bimodal,pendulum", "--videos", str(tmp_path / "v2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --videos: expected one --task, found the 2 tasks of bimodal,pendulum"


def test_an_unwritable_videos_folder_fails_before_any_episode(tmp_path, capsys):
    from protege.cli import main

    (tmp_path / "file").write_text("x")
    assert main(["eval", "--expert", "--task", "bimodal", "--episodes", "2", "--videos", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip() == f"error: --videos {tmp_path / 'file'}: expected a folder, found a file"
