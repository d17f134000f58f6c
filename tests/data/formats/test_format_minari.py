"""Minari: HDF5 and Arrow storages read as published (observations T+1); native round trips; bad input."""

import json

import h5py
import numpy as np
import pytest

from protege.data.formats import convert, load_any, save_as
from protege.errors import ProtegeError


def test_reads_hdf5_dict_observations(tmp_path, layouts):
    eps = layouts.minari_hdf5(tmp_path / "pointmaze")
    ds = load_any(tmp_path / "pointmaze", obs_keys=["observation", "desired_goal"])
    assert list(ds.spec.observation) == ["observation", "desired_goal"] and ds.meta["task"] == "test/pointmaze-v0"
    assert ds.spec.action.low == (-1.0, -1.0)
    for ep, a in zip(ds.episodes, eps):
        np.testing.assert_array_equal(ep.observations["observation"], a["obs"])  # T+1 rows
        np.testing.assert_array_equal(ep.actions, a["action"])
        assert ep.info["seed"] in (100, 101)
    assert [e.success for e in ds.episodes] == [True, False]  # infos/success


@pytest.mark.parametrize("storage", ["arrow", "parquet"])
def test_reads_arrow_and_parquet_storage(tmp_path, layouts, storage):
    eps = layouts.minari_arrow(tmp_path / "box", fmt=storage)
    ds = load_any(tmp_path / "box")
    assert list(ds.spec.observation) == ["state"]
    for ep, a in zip(ds.episodes, eps):
        np.testing.assert_array_equal(ep.observations["state"], a["obs"])
        np.testing.assert_array_equal(ep.actions, a["action"])
        np.testing.assert_allclose(ep.rewards, a["reward"])
    # arrow: no success anywhere (no termination, empty infos); parquet: infos.success on episode 0's last step
    assert [e.success for e in ds.episodes] == ([False, False] if storage == "arrow" else [True, False])


@pytest.mark.parametrize("storage", ["hdf5", "arrow", "parquet"])
def test_round_trip_native_minari_native(tmp_path, native_dataset, storage, assert_same):
    save_as(native_dataset, tmp_path / "n", "protege")
    convert(tmp_path / "n", tmp_path / "m", to_fmt="minari", data_format=storage)
    meta = json.loads((tmp_path / "m/data/metadata.json").read_text())
    assert meta["data_format"] == storage and meta["total_steps"] == 6 + 7 + 8
    assert json.loads(meta["observation_space"])["shape"] == [3]
    convert(tmp_path / "m", tmp_path / "back")
    assert_same(load_any(tmp_path / "n"), load_any(tmp_path / "back"))


def test_observations_must_have_t_plus_1_rows(tmp_path, layouts):
    layouts.minari_hdf5(tmp_path / "pm")
    with h5py.File(tmp_path / "pm/data/main_data.hdf5", "a") as f:
        del f["episode_1/observations/observation"]
        f.create_dataset("episode_1/observations/observation", data=np.zeros((3, 3), np.float32))
    with pytest.raises(ProtegeError, match=r"main_data\.hdf5:episode_1: field 'observations/observation': "
                                           r"expected 4 rows \(T\+1 for 3 actions\), found 3"):
        load_any(tmp_path / "pm")


def test_missing_metadata_key(tmp_path, layouts):
    layouts.minari_hdf5(tmp_path / "pm")
    meta = json.loads((tmp_path / "pm/data/metadata.json").read_text())
    del meta["action_space"]
    (tmp_path / "pm/data/metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ProtegeError, match=r"metadata\.json: field 'action_space': expected a serialised 'action_space'"):
        load_any(tmp_path / "pm")
