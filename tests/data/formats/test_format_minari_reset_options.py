"""Minari episodes keep their reset options (Minari's `options/...` attributes) and their goal-step counts."""

import json

import h5py
import numpy as np

from protege.data.formats import convert, load_any


def test_reset_options_and_success_steps_come_back_in_episode_info(tmp_path, layouts):
    layouts.minari_hdf5(tmp_path / "pm", lengths=(5, 3))
    with h5py.File(tmp_path / "pm/data/main_data.hdf5", "a") as f:  # as Minari's HDF5 storage flattens them
        f["episode_0"].attrs["options/initial_state_dict/qpos"] = np.arange(4.0)
        f["episode_0"].attrs["options/initial_state_dict/door_body_pos"] = np.float64([-0.1, 0.2, 0.3])
        f["episode_0"].attrs["options/mode"] = "replay"
        del f["episode_1/infos/success"]
        f.create_dataset("episode_1/infos/success", data=np.array([True, True, False, True]))  # [0]: reset
    ds = load_any(tmp_path / "pm")
    first, second = ds.episodes
    assert first.info["reset_options"] == {"initial_state_dict": {"qpos": [0.0, 1.0, 2.0, 3.0],
                                                                  "door_body_pos": [-0.1, 0.2, 0.3]},
                                           "mode": "replay"}
    assert "reset_options" not in second.info
    assert first.info["success_steps"] == 1 and second.info["success_steps"] == 2  # the reset flag not counted
    json.dumps(first.info)  # JSON-able: it travels into native meta and episode files
    convert(tmp_path / "pm", tmp_path / "native")
    assert load_any(tmp_path / "native").episodes[0].info == first.info


def test_episode_metadata_json_options_are_read_for_arrow_storage(tmp_path, layouts):
    layouts.minari_arrow(tmp_path / "box")
    meta_path = tmp_path / "box/data/0/metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["options"] = {"initial_state_dict": {"qpos": [0.5, 0.25]}}
    meta_path.write_text(json.dumps(meta))
    ds = load_any(tmp_path / "box")
    assert ds.episodes[0].info["reset_options"] == {"initial_state_dict": {"qpos": [0.5, 0.25]}}
    assert "reset_options" not in ds.episodes[1].info
