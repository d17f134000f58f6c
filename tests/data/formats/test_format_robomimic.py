"""robomimic HDF5: a fixture with train/valid masks read as published; native round trip; bad demos named."""

import h5py
import numpy as np
import pytest

from protege.data.formats import convert, load_any, save_as
from protege.errors import ProtegeError


def test_reads_demos_masks_and_final_observation(tmp_path, layouts):
    eps = layouts.robomimic(tmp_path / "low_dim.hdf5")
    ds = load_any(tmp_path / "low_dim.hdf5", obs_keys=["robot0_eef_pos", "object"])
    assert list(ds.spec.observation) == ["robot0_eef_pos", "object"]
    assert ds.meta["task"] == "Lift" and ds.spec.fps == 20.0
    assert ds.meta["splits"] == {"train": ["demo_0", "demo_1", "demo_3"], "valid": ["demo_2"]}
    for ep, a in zip(ds.episodes, eps):
        np.testing.assert_array_equal(ep.observations["robot0_eef_pos"], a["full"])  # T+1 from next_obs
        np.testing.assert_array_equal(ep.actions, a["action"])
        assert ep.success  # dones[-1] == 1
    train = load_any(tmp_path / "low_dim.hdf5", filter_key="train")
    assert [e.info["robomimic_demo"] for e in train.episodes] == ["demo_0", "demo_1", "demo_3"]


def test_round_trip_keeps_masks(tmp_path, layouts):
    layouts.robomimic(tmp_path / "a.hdf5")
    convert(tmp_path / "a.hdf5", tmp_path / "native")
    convert(tmp_path / "native", tmp_path / "b.hdf5")
    with h5py.File(tmp_path / "b.hdf5") as f:
        assert sorted(f["mask/train"][()].tolist()) == [b"demo_0", b"demo_1", b"demo_3"]
        assert f["data"].attrs["total"] == 5 + 7 + 6 + 4 and f["data/demo_2"].attrs["num_samples"] == 6


def test_round_trip_native_robomimic_native(tmp_path, native_dataset, assert_same):
    save_as(native_dataset, tmp_path / "n", "protege")
    convert(tmp_path / "n", tmp_path / "demos.hdf5")
    with h5py.File(tmp_path / "demos.hdf5") as f:
        assert f["data/demo_0/next_obs/state"].shape == (6, 3) and f["data/demo_0/obs/state"].shape == (6, 3)
    convert(tmp_path / "demos.hdf5", tmp_path / "back")
    assert_same(load_any(tmp_path / "n"), load_any(tmp_path / "back"))


def test_demo_arrays_that_disagree_in_length(tmp_path, layouts):
    layouts.robomimic(tmp_path / "a.hdf5")
    with h5py.File(tmp_path / "a.hdf5", "a") as f:
        del f["data/demo_1/rewards"]
        f.create_dataset("data/demo_1/rewards", data=np.zeros(3))
    with pytest.raises(ProtegeError, match=r"a\.hdf5: field 'data/demo_1/rewards': expected 7 rows like actions, found 3"):
        load_any(tmp_path / "a.hdf5")


def test_missing_data_group_and_unknown_filter(tmp_path, layouts):
    with h5py.File(tmp_path / "x.hdf5", "w") as f:
        f.create_dataset("actions", data=np.zeros(3))
    with pytest.raises(ProtegeError, match=r"x\.hdf5: field 'data': expected a 'data' group \(robomimic layout\), "
                                           r"found top-level keys \['actions'\]"):
        load_any(tmp_path / "x.hdf5")
    layouts.robomimic(tmp_path / "a.hdf5")
    with pytest.raises(ProtegeError, match=r"field 'mask/test': expected a filter among \['train', 'valid'\]"):
        load_any(tmp_path / "a.hdf5", filter_key="test")
