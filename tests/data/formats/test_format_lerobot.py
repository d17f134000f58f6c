"""LeRobot v3.0 and v2.1 read from fixtures that follow the published layout; v3.0 written and read back."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from protege.data.formats import convert, load_any, save_as
from protege.data.formats.lerobot import LazyFrames, LeRobotReader
from protege.errors import ProtegeError


def test_reads_v3_with_several_episodes_per_file(tmp_path, layouts):
    eps, tasks, success = layouts.lerobot_v3(tmp_path / "lr")
    ds = load_any(tmp_path / "lr")
    assert ds.meta["provenance"]["converted_from"]["version"] == "v3.0"
    assert len(ds) == 3 and ds.spec.fps == layouts.fps and list(ds.spec.observation) == ["state"]
    assert ds.meta["provenance"]["converted_from"]["obs_keys"] == {"state": "observation.state"}
    for ep, a, ok, i in zip(ds.episodes, eps, success, range(3)):
        np.testing.assert_array_equal(ep.observations["state"], a["state"])
        np.testing.assert_array_equal(ep.actions, a["action"])
        np.testing.assert_array_equal(ep.rewards, a["reward"])
        assert ep.success == ok and ep.info["task"] == tasks[i % 2]
    reader = LeRobotReader(tmp_path / "lr")
    assert len({e.data_file for e in reader.episodes}) == 2  # episodes 0 and 1 share a file


def test_camera_frames_decode_lazily_and_on_request(tmp_path, layouts):
    eps, _, _ = layouts.lerobot_v3(tmp_path / "lr")
    reader = LeRobotReader(tmp_path / "lr")
    assert reader.camera_keys == ["observation.images.top"]
    # Episode 2 starts at frame 11 of the shared mp4; ask for two of its frames only.
    got = reader.frames("observation.images.top", 2, [3, 5])
    want = eps[2]["frames"][[3, 5]]
    assert got.shape == want.shape and np.abs(got.astype(int) - want).mean() < 4
    # Wrong frames would be far off: the frames differ from each other by much more than the codec error.
    assert np.abs(eps[2]["frames"][3].astype(int) - eps[2]["frames"][5]).mean() > 4
    ds = load_any(tmp_path / "lr", obs_keys=["top", "observation.state"])
    assert list(ds.spec.observation) == ["top", "state"] and ds.spec.observation["top"].dtype == "uint8"
    assert np.abs(ds.episodes[1].observations["top"].astype(int) - eps[1]["frames"]).mean() < 4


def test_lazy_frames_decode_only_what_a_batch_asks_for(tmp_path, layouts):
    eps, _, _ = layouts.lerobot_v3(tmp_path / "lr")
    frames = LazyFrames(LeRobotReader(tmp_path / "lr"), "observation.images.top")
    assert frames.shape == (18, 16, 24, 3) and frames.decoded_frames == 0
    batch = frames[np.array([13, 1, 15])]  # episode 2 (starts at 11): frames 2 and 4; episode 0: frame 1
    want = np.stack([eps[2]["frames"][2], eps[0]["frames"][1], eps[2]["frames"][4]])
    assert batch.shape == (3, 16, 24, 3) and np.abs(batch.astype(int) - want).mean() < 4
    assert frames.decoded_frames == 3 + 1  # frames 2..4 of episode 2 and frame 1 of episode 0, nothing else
    frames[14]  # inside the cached span: no decoding
    assert frames.decoded_frames == 4


def test_reads_v21(tmp_path, layouts):
    eps = layouts.lerobot_v21(tmp_path / "old")
    ds = load_any(tmp_path / "old")
    assert ds.meta["provenance"]["converted_from"]["version"] == "v2.1" and ds.meta["task"] == "stack"
    for ep, a in zip(ds.episodes, eps):
        np.testing.assert_array_equal(ep.observations["state"], a["state"])
        np.testing.assert_array_equal(ep.actions, a["action"])


def test_round_trip_native_lerobot_native(tmp_path, native_dataset, assert_same):
    save_as(native_dataset, tmp_path / "n", "protege")
    convert(tmp_path / "n", tmp_path / "lr", to_fmt="lerobot", data_file_mb=0.0002)  # tiny files: one per episode
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 15 and info["total_frames"] == 6 + 7 + 8
    assert info["features"]["observation.state"]["shape"] == [3]
    assert len(list((tmp_path / "lr/data").glob("chunk-000/file-*.parquet"))) == 3
    convert(tmp_path / "lr", tmp_path / "back")
    assert_same(load_any(tmp_path / "n"), load_any(tmp_path / "back"))


def test_images_become_mp4_and_come_back(tmp_path, layouts):
    ds = layouts.images()
    save_as(ds, tmp_path / "lr", "lerobot")
    mp4s = list((tmp_path / "lr/videos/observation.images.cam").glob("chunk-*/file-*.mp4"))
    assert len(mp4s) == 1  # both episodes in one file
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    assert info["features"]["observation.images.cam"]["dtype"] == "video"
    back = load_any(tmp_path / "lr", obs_keys=["state", "cam"])
    for x, y in zip(ds.episodes, back.episodes):
        np.testing.assert_array_equal(x.observations["state"], y.observations["state"])
        assert np.abs(x.observations["cam"].astype(int) - y.observations["cam"]).mean() < 4


def test_unsupported_version_is_named(tmp_path, layouts):
    layouts.lerobot_v3(tmp_path / "lr", camera=False)
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    info["codebase_version"] = "v1.6"
    (tmp_path / "lr/meta/info.json").write_text(json.dumps(info))
    with pytest.raises(ProtegeError, match=r"info\.json: field 'codebase_version': expected a LeRobot dataset version "
                                           r"in \['v3\.0', 'v2\.1', 'v2\.0'\], found 'v1\.6'"):
        load_any(tmp_path / "lr")


def test_missing_action_feature(tmp_path, layouts):
    layouts.lerobot_v3(tmp_path / "lr", camera=False)
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    del info["features"]["action"]
    (tmp_path / "lr/meta/info.json").write_text(json.dumps(info))
    with pytest.raises(ProtegeError, match=r"info\.json: field 'features/action': expected an 'action' feature"):
        load_any(tmp_path / "lr")


def test_parquet_column_with_wrong_length(tmp_path, layouts):
    layouts.lerobot_v3(tmp_path / "lr", camera=False)
    path = tmp_path / "lr/data/chunk-000/file-001.parquet"
    t = pq.read_table(path)
    bad = pa.array([[1.0, 2.0]] * t.num_rows, type=pa.list_(pa.float32()))  # 2 values, info.json says 3
    pq.write_table(t.set_column(t.column_names.index("observation.state"), "observation.state", bad), path)
    with pytest.raises(ProtegeError, match=r"file-001\.parquet: field 'observation\.state': expected 3 values per row "
                                           r"\(shape \[3\]\), found 2 values per row"):
        load_any(tmp_path / "lr")


def test_episode_rows_missing_from_data_file(tmp_path, layouts):
    layouts.lerobot_v3(tmp_path / "lr", camera=False)
    path = tmp_path / "lr/data/chunk-000/file-000.parquet"
    t = pq.read_table(path)
    pq.write_table(t.slice(0, t.num_rows - 2), path)  # episode 1 loses two frames
    with pytest.raises(ProtegeError, match=r"file-000\.parquet: field 'episode_index == 1': expected 5 rows "
                                           r"\(the episode's length\), found 3"):
        load_any(tmp_path / "lr")
