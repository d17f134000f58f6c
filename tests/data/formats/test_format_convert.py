"""`protege convert` / `protege info` / `protege train` on every format; detection; all-or-nothing writes;
and a policy trained on a converted dataset that still does the task."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from protege.cli import main
from protege.data.formats import convert, detect_format, load_any, save_as
from protege.errors import ProtegeError


@pytest.fixture
def cli(capsys):
    """Run `protege ...` in this process (the subprocess path is covered by tests/test_cli.py)."""
    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run


def _one_line_error(r, *fragments):
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_cli_convert_info_and_train_on_each_format(tmp_path, cli, native_dataset):
    save_as(native_dataset, tmp_path / "n", "protege")
    targets = {"lerobot": tmp_path / "lr", "robomimic": tmp_path / "d.hdf5", "minari": tmp_path / "mn"}
    for fmt, dst in targets.items():
        args = ["--to", fmt] if fmt != "robomimic" else []  # a .hdf5 name says robomimic
        r = cli("convert", tmp_path / "n", dst, *args)
        assert r.returncode == 0, r.stderr
        assert "read back and checked" in r.stdout and detect_format(dst) == fmt
        r = cli("info", dst, "--json", tmp_path / f"{fmt}.json")
        assert r.returncode == 0, r.stderr
        info = json.loads((tmp_path / f"{fmt}.json").read_text())
        assert (info["format"], info["episodes"], info["steps"], info["successes"], info["fps"]) == (fmt, 3, 21, 2, 15.0)
        assert info["stats"]["action"]["dims"] == 2 and f"{fmt}" in r.stdout
    r = cli("train", "--data", targets["robomimic"], "--out", tmp_path / "ck", "--steps", 30,
             "--eval-every", 10)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "ck/config.json").read_text())
    assert "3 episodes (21 steps)" in r.stdout and cfg["spec"]["observation"]["state"]["shape"] == [3]


def test_obs_keys_choose_and_order(tmp_path, layouts):
    layouts.minari_hdf5(tmp_path / "pm")
    report = convert(tmp_path / "pm", tmp_path / "n", obs_keys=["desired_goal", "observation"])
    assert report.obs_keys == ["desired_goal", "observation"]
    ds = load_any(tmp_path / "n")
    assert list(ds.spec.observation) == ["desired_goal", "observation"]
    assert ds.meta["provenance"]["converted_from"]["obs_keys"]["desired_goal"] == "observations/desired_goal"
    with pytest.raises(ProtegeError, match=r"field '--obs-keys': expected observation keys among "
                                           r"\['observation', 'desired_goal'\], found 'goal'"):
        load_any(tmp_path / "pm", obs_keys=["goal"])


def test_unknown_folder_is_one_line(tmp_path, cli):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hi")
    r = cli("info", tmp_path / "stuff")
    _one_line_error(r, "stuff: expected a dataset: protege (meta.json + episodes/), LeRobot (meta/info.json)",
                    "found entries ['notes.txt']")
    r = cli("convert", tmp_path / "stuff", tmp_path / "out", "--to", "lerobot")
    _one_line_error(r, "expected a dataset")
    assert not (tmp_path / "out").exists()


def test_native_to_folder_needs_to(tmp_path, cli, native_dataset):
    save_as(native_dataset, tmp_path / "n", "protege")
    r = cli("convert", tmp_path / "n", tmp_path / "x")
    _one_line_error(r, "x: expected --to {lerobot,minari,robomimic}")


def test_failed_conversion_leaves_nothing(tmp_path, native_dataset, monkeypatch):
    import protege.data.formats.check as check

    save_as(native_dataset, tmp_path / "n", "protege")
    convert(tmp_path / "n", tmp_path / "old.hdf5")
    before = (tmp_path / "old.hdf5").read_bytes()

    def refuse(a, b, where, tolerance):
        raise ProtegeError(f"{where}: check after writing: field 'x': expected y, found z")

    monkeypatch.setattr(check, "compare", refuse)
    for dst, kw in ((tmp_path / "lr", {"to_fmt": "lerobot"}), (tmp_path / "old.hdf5", {"overwrite": True})):
        with pytest.raises(ProtegeError, match="check after writing"):
            convert(tmp_path / "n", dst, **kw)
    assert not (tmp_path / "lr").exists()
    assert (tmp_path / "old.hdf5").read_bytes() == before  # the existing file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n", "old.hdf5"]  # no temporary left behind


@pytest.mark.parametrize("fmt", ["robomimic", "minari"])
def test_cameras_round_trip_exactly_outside_lerobot(tmp_path, layouts, assert_same, fmt):
    ds = layouts.images()  # no rewards: they must come back as none, not as zeros
    save_as(ds, tmp_path / "n", "protege")
    dst = tmp_path / ("x.hdf5" if fmt == "robomimic" else "x")
    report = convert(tmp_path / "n", dst, to_fmt=fmt)
    assert report.image_error == {"cam": 0.0}
    convert(dst, tmp_path / "back")
    assert_same(load_any(tmp_path / "n"), load_any(tmp_path / "back"))


def test_existing_destination_is_refused(tmp_path, native_dataset):
    save_as(native_dataset, tmp_path / "n", "protege")
    (tmp_path / "lr").mkdir()
    with pytest.raises(ProtegeError, match=r"lr: expected a new path, found an existing folder"):
        convert(tmp_path / "n", tmp_path / "lr", to_fmt="lerobot")


def test_bc_on_a_converted_dataset_swings_up(tmp_path):
    """Pendulum demos -> LeRobot -> Minari -> trained on in place: the policy still swings up and balances
    (same bar as the native BC test: 85% of 20 held-out episodes)."""
    from protege.algos.bc import TrainConfig, train_bc
    from protege.checkpoint import PolicyActor, load_checkpoint
    from protege.envs import get_task
    from protege.evaluation.evaluate import evaluate
    from protege.recording import record_expert

    record_expert("pendulum", 20, tmp_path / "ds", seed=0, noise=0.1)
    convert(tmp_path / "ds", tmp_path / "lr", to_fmt="lerobot")
    convert(tmp_path / "lr", tmp_path / "mn", from_fmt="lerobot", to_fmt="minari")
    ds = load_any(tmp_path / "mn")
    assert ds.num_labels == load_any(tmp_path / "ds").num_labels > 0  # expert labels survived both hops
    result = train_bc(ds, "mlp", None, TrainConfig(steps=1500, seed=0, threads=1), out=tmp_path / "ck")
    assert result.best_val_loss < 0.1
    policy = load_checkpoint(tmp_path / "ck")
    ev = evaluate(get_task("pendulum"), lambda: PolicyActor(policy), episodes=20, seed=0,
                  training_seeds=ds.meta["provenance"]["episode_seeds"])
    # the converted episodes are identical to the native ones, so this trains exactly as tests/algos/test_bc.py;
    # measured (20 demos): 20/20 for training seeds 0-3 at 1 thread; 10 demos scored 15/20 at seed 0, 1 thread
    assert ev.summary.success_rate >= 0.85, ev.summary
    assert np.isfinite(result.best_val_loss)
