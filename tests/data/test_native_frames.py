"""Camera frames in the native format: PNG per frame inside the episode's .npz, loaded lazily; and LeRobot
video episodes as per-episode lazy views."""

import zipfile

import numpy as np
import pytest

from protege.data import Episode, load_dataset, save_dataset
from protege.data.frames import FrameArray
from protege.data.framestore import PngFrames
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

H = W = 12


def _frames(T, seed):
    """Smooth frames that differ from step to step (a moving bright square on a gradient)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:H, :W]
    out = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        img = np.stack([x * 20 + t, y * 20, (x + y) * 10 + seed], -1)
        cx, cy = (t * 2 + seed) % (W - 3), (t + 3 * seed) % (H - 3)
        img[cy:cy + 3, cx:cx + 3] = 255
        out[t] = np.clip(img + rng.integers(0, 3, img.shape), 0, 255)
    return out


def _dataset(tmp_path, n=2, T=9, extra=None):
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(T + 1, 3)).astype(np.float32), "cam": _frames(T + 1, i),
                                 **(extra or {})},
                   actions=rng.uniform(-1, 1, (T, 2)).astype(np.float32), success=True, info={"seed": i})
           for i in range(n)]
    spec = Spec({"state": ArraySpec((3,)), "cam": ArraySpec((H, W, 3), "uint8")}, ArraySpec((2,)), fps=10.0)
    save_dataset(eps, tmp_path / "ds", spec=spec)
    return eps, load_dataset(tmp_path / "ds")


def test_frames_round_trip_losslessly_and_load_lazily(tmp_path):
    eps, ds = _dataset(tmp_path)
    assert ds.spec.observation["cam"] == ArraySpec((H, W, 3), "uint8")
    for a, b in zip(eps, ds.episodes):
        cam = b.observations["cam"]
        assert isinstance(cam, PngFrames) and isinstance(cam, FrameArray)
        assert cam.shape == (10, H, W, 3) and cam.dtype == np.uint8 and cam.decoded_frames == 0  # nothing decoded yet
        np.testing.assert_array_equal(np.asarray(cam), a.observations["cam"])  # lossless
        np.testing.assert_array_equal(b.observations["state"], a.observations["state"])


def test_only_the_requested_frames_are_decoded(tmp_path):
    eps, ds = _dataset(tmp_path)
    cam = ds.episodes[1].observations["cam"]
    np.testing.assert_array_equal(cam[4], eps[1].observations["cam"][4])
    assert cam.decoded_frames == 1
    np.testing.assert_array_equal(cam[[7, 2, 7]], eps[1].observations["cam"][[7, 2, 7]])
    np.testing.assert_array_equal(cam[-1], eps[1].observations["cam"][-1])
    np.testing.assert_array_equal(cam[3:5], eps[1].observations["cam"][3:5])
    assert cam.decoded_frames == 1 + 3 + 1 + 2
    assert ds.episodes[0].observations["cam"].decoded_frames == 0  # another episode: untouched


def test_loaded_episodes_hold_no_frames(tmp_path):
    """Memory stays flat: an episode keeps the file path and frame offsets, not decoded frames (nor even the
    PNG bytes), and pickles small (for loader worker processes)."""
    import pickle

    _, ds = _dataset(tmp_path, T=40)
    cam = ds.episodes[0].observations["cam"]
    raw = cam.shape[0] * H * W * 3
    assert cam.in_memory_bytes == 8 * (cam.shape[0] + 1) and cam.in_memory_bytes < raw / 10
    assert not any(isinstance(v, np.ndarray) and v.size >= H * W * 3 for v in vars(cam).values())
    assert len(pickle.dumps(cam)) < raw / 5


def test_episode_file_is_plain_arrays_and_smaller_than_raw(tmp_path):
    eps, ds = _dataset(tmp_path)
    path = tmp_path / "ds/episodes/000000.npz"
    with np.load(path, allow_pickle=False) as z:  # no pickles anywhere
        assert {"frames.cam", "frames_offsets.cam", "frames_shape.cam"} <= set(z.files) and "obs.cam" not in z.files
        assert z["frames.cam"].dtype == np.uint8 and z["frames_offsets.cam"].dtype == np.int64
        assert z["frames_shape.cam"].tolist() == [10, H, W, 3]
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())  # readable in place


def test_damaged_frame_bytes_fail_in_one_line_on_access(tmp_path):
    _, ds = _dataset(tmp_path, T=60)  # (a small member is read whole at load, where the zip CRC catches damage)
    path = tmp_path / "ds/episodes/000000.npz"
    cam = ds.episodes[0].observations["cam"]
    data = bytearray(path.read_bytes())
    start = cam._source[1] + int(cam.offsets[3])
    data[start + 8:start + 40] = b"\0" * 32  # frame 3's PNG header and image header
    path.write_bytes(bytes(data))
    cam = load_dataset(tmp_path / "ds").episodes[0].observations["cam"]
    cam[2]  # other frames still decode
    with pytest.raises(ProtegeError, match=r"000000\.npz observations/cam: field 'frame 3': expected a PNG image"):
        cam[3]


def test_frames_are_copied_between_datasets_without_decoding(tmp_path):
    _, ds = _dataset(tmp_path)
    save_dataset(ds, tmp_path / "copy")
    assert all(e.observations["cam"].decoded_frames == 0 for e in ds.episodes)
    again = load_dataset(tmp_path / "copy")
    for a, b in zip(ds.episodes, again.episodes):
        np.testing.assert_array_equal(np.asarray(a.observations["cam"]), np.asarray(b.observations["cam"]))


def test_keys_outside_the_spec_are_never_written(tmp_path):
    """An env's privileged observation (the object state of metaworld-vision/*) stays out of the dataset."""
    _, ds = _dataset(tmp_path, extra={"privileged.state": np.zeros((10, 39), np.float32)})
    assert set(ds.episodes[0].observations) == {"state", "cam"}
    with np.load(tmp_path / "ds/episodes/000000.npz") as z:
        assert not any("privileged" in k for k in z.files)


def test_stats_skip_cameras(tmp_path):
    import json

    _, ds = _dataset(tmp_path)
    stats = json.loads((tmp_path / "ds/stats.json").read_text())
    assert "observation.state" in stats and "observation.cam" not in stats
    assert all(e.observations["cam"].decoded_frames == 0 for e in ds.episodes)


def test_lerobot_video_episodes_carry_lazy_cameras(tmp_path):
    """A LeRobot video dataset (written by our converter) loads with per-episode FrameArray views that
    decode only the frames asked for."""
    from protege.data.formats import convert, load_any
    from protege.data.formats.lerobot import EpisodeFrames

    eps, _ = _dataset(tmp_path, n=2, T=9)
    convert(tmp_path / "ds", tmp_path / "lr", to_fmt="lerobot")
    ds = load_any(tmp_path / "lr", obs_keys=["state", "cam"])
    assert ds.spec.observation["cam"] == ArraySpec((H, W, 3), "uint8")
    for a, b in zip(eps, ds.episodes):
        cam = b.observations["cam"]
        assert isinstance(cam, EpisodeFrames) and isinstance(cam, FrameArray) and cam.decoded_frames == 0
        assert cam.shape == (10, H, W, 3)  # the final frame comes from the episode table
        got = cam[[2, 3]]
        assert cam.decoded_frames == 2
        want = a.observations["cam"][[2, 3]].astype(int)
        err = [[np.abs(g.astype(int) - w).mean() for w in want] for g in got]  # H.264: near, not exact
        assert err[0][0] < 8 and err[1][1] < 8 and err[0][0] < err[0][1] and err[1][1] < err[1][0]
        np.testing.assert_array_equal(cam[9], a.observations["cam"][9])  # final: stored exactly
