"""`dagger --data` and `dapg --demos` read every format `train` reads: here robomimic .hdf5 and LeRobot."""

import json

import numpy as np
import pytest

from protege.cli import main
from protege.data import load_dataset
from protege.data.formats import convert
from protege.recording import record_expert

FORMATS = ["demos.hdf5", "lerobot"]  # robomimic (a file) and LeRobot (a folder)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Two pendulum expert episodes: native/, and the same converted to demos.hdf5 and lerobot/."""
    root = tmp_path_factory.mktemp("demos")
    record_expert("pendulum", 2, root / "native", seed=0)
    convert(root / "native", root / "demos.hdf5")
    convert(root / "native", root / "lerobot", to_fmt="lerobot")
    return root


@pytest.mark.parametrize("name", FORMATS)
def test_dagger_data_reads_a_foreign_format(demos, name, tmp_path):
    out = tmp_path / "run"
    rc = main(["dagger", "--task", "pendulum", "--data", str(demos / name), "--rounds", "1",
               "--episodes-per-round", "1", "--eval-episodes", "1", "--train.steps", "20",
               "--mlp.hidden-dims", "16", "16", "--out", str(out)])
    assert rc == 0
    native = load_dataset(demos / "native")
    round0 = [e for e in load_dataset(out / "data").episodes if e.info.get("round", 0) == 0]
    assert len(round0) == len(native)  # the demonstrations copied as round 0, unchanged
    for got, want in zip(round0, native.episodes):
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_array_equal(got.observations["state"], want.observations["state"])
    records = json.loads((out / "rounds.json").read_text())
    assert [r["round"] for r in records] == [0, 1] and records[0]["expert_labels"] == native.num_steps


@pytest.mark.parametrize("name", FORMATS)
def test_dapg_demos_reads_a_foreign_format(demos, name, tmp_path):
    out = tmp_path / "run"
    rc = main(["dapg", "--task", "pendulum", "--demos", str(demos / name), "--out", str(out), "--bc-steps", "20",
               "--env-steps", "400", "--episodes-per-iter", "2", "--num-envs", "2"])
    assert rc == 0
    native = load_dataset(demos / "native")
    bc = json.loads((out / "bc" / "config.json").read_text())
    assert bc["dataset"]["episodes"] == len(native)
    assert bc["dataset"]["episode_seeds"] == [e.info["seed"] for e in native.episodes]
    assert (out / "policy" / "model.safetensors").exists()
