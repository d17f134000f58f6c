"""Small generators that write each published layout directly (not through protege's writers), so the
readers are tested against the formats themselves: LeRobot v3.0 (several episodes per data file, a
camera video shared by episodes) and v2.1, robomimic HDF5 with train/valid masks, Minari HDF5 and Arrow.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

FPS = 10
H, W = 16, 24


def _arrays(lengths, state_dim=3, act_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    return [dict(state=rng.normal(size=(T, state_dim)).astype(np.float32),
                 action=rng.uniform(-1, 1, size=(T, act_dim)).astype(np.float32),
                 reward=rng.normal(size=T).astype(np.float32)) for T in lengths]


def _frames(T, offset):
    """Smooth frames (video codecs keep them close): a moving gradient."""
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([np.stack([(xx * 8 + 4 * (t + offset)) % 256, yy * 12 % 256,
                               np.full_like(xx, (40 + 3 * (t + offset)) % 256)], -1)
                     for t in range(T)]).astype(np.uint8)


def _list_col(a):
    return pa.array(list(a), type=pa.list_(pa.float32()))  # HF datasets' Sequence: a variable list column


def _write_mp4(path, frames):
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    w = imageio_ffmpeg.write_frames(str(path), (W, H), fps=FPS, codec="libx264", pix_fmt_out="yuv420p",
                                    macro_block_size=1, quality=None, output_params=["-crf", "5"],
                                    ffmpeg_log_level="error")
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f))
    w.close()


def _features(camera):
    ft = {"observation.state": {"dtype": "float32", "shape": [3], "names": ["a", "b", "c"]},
          "action": {"dtype": "float32", "shape": [2], "names": ["x", "y"]},
          "next.reward": {"dtype": "float32", "shape": [1], "names": None},
          "next.success": {"dtype": "bool", "shape": [1], "names": None},
          "timestamp": {"dtype": "float32", "shape": [1], "names": None},
          "frame_index": {"dtype": "int64", "shape": [1], "names": None},
          "episode_index": {"dtype": "int64", "shape": [1], "names": None},
          "index": {"dtype": "int64", "shape": [1], "names": None},
          "task_index": {"dtype": "int64", "shape": [1], "names": None}}
    if camera:
        ft["observation.images.top"] = {"dtype": "video", "shape": [H, W, 3], "names": ["height", "width", "channels"],
                                        "info": {"video.fps": FPS, "video.codec": "h264", "video.pix_fmt": "yuv420p"}}
    return ft


def _frame_table(ep, arrays, start, task_index, success):
    T = len(arrays["action"])
    return pa.table({"observation.state": _list_col(arrays["state"]),
                     "action": pa.FixedSizeListArray.from_arrays(pa.array(arrays["action"].reshape(-1)), 2),
                     "next.reward": pa.array(arrays["reward"]),
                     "next.success": pa.array((np.arange(T) == T - 1) & success),
                     "timestamp": pa.array((np.arange(T) / FPS).astype(np.float32)),
                     "frame_index": pa.array(np.arange(T)), "episode_index": pa.array(np.full(T, ep)),
                     "index": pa.array(np.arange(start, start + T)), "task_index": pa.array(np.full(T, task_index))})


def make_lerobot_v3(root: Path, lengths=(6, 5, 7), camera=True):
    """Episodes 0 and 1 share data/chunk-000/file-000.parquet, episode 2 is in file-001; all camera frames
    are in one mp4. Returns the arrays (and frames) written."""
    eps = _arrays(lengths)
    tasks = ["pick the cube", "place the cube"]
    success = [True, False, True]
    rows, start, t_video, frames_all = [], 0, 0, []
    tables = {0: [], 1: []}
    for i, a in enumerate(eps):
        T = len(a["action"])
        f = 0 if i < 2 else 1
        tables[f].append(_frame_table(i, a, start, i % 2, success[i]))
        a["frames"] = _frames(T, offset=t_video)
        frames_all.append(a["frames"])
        row = {"episode_index": i, "tasks": [tasks[i % 2]], "length": T, "data/chunk_index": 0, "data/file_index": f,
               "dataset_from_index": start, "dataset_to_index": start + T,
               "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
        if camera:
            row.update({"videos/observation.images.top/chunk_index": 0, "videos/observation.images.top/file_index": 0,
                        "videos/observation.images.top/from_timestamp": t_video / FPS,
                        "videos/observation.images.top/to_timestamp": (t_video + T) / FPS})
        rows.append(row)
        start += T
        t_video += T
    for f, ts in tables.items():
        p = root / f"data/chunk-000/file-{f:03d}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(ts), p)
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    pq.write_table(pa.table({"task_index": [0, 1], "__index_level_0__": tasks}), root / "meta/tasks.parquet")
    if camera:
        _write_mp4(root / "videos/observation.images.top/chunk-000/file-000.mp4", np.concatenate(frames_all))
    info = {"codebase_version": "v3.0", "robot_type": "so100", "total_episodes": len(eps), "total_frames": start,
            "total_tasks": 2, "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
            "fps": FPS, "splits": {"train": f"0:{len(eps)}"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4" if camera else None,
            "features": _features(camera)}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    return eps, tasks, success


def make_lerobot_v21(root: Path, lengths=(4, 6)):
    eps = _arrays(lengths, seed=1)
    start = 0
    with open(_mk(root / "meta/episodes.jsonl"), "w") as f:
        for i, a in enumerate(eps):
            T = len(a["action"])
            p = root / f"data/chunk-000/episode_{i:06d}.parquet"
            p.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_frame_table(i, a, start, 0, True), p)
            f.write(json.dumps({"episode_index": i, "tasks": ["stack"], "length": T}) + "\n")
            start += T
    (root / "meta/tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "stack"}) + "\n")
    info = {"codebase_version": "v2.1", "robot_type": "koch", "total_episodes": len(eps), "total_frames": start,
            "total_tasks": 1, "total_chunks": 1, "chunks_size": 1000, "fps": FPS, "splits": {"train": "0:2"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": None, "features": _features(False)}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    return eps


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_robomimic(path: Path, lengths=(5, 7, 6, 4)):
    """robomimic layout with obs/next_obs, states, dones and mask/train + mask/valid."""
    eps = _arrays(lengths, seed=2)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i, a in enumerate(eps):
            T = len(a["action"])
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = T
            full = np.concatenate([a["state"], a["state"][-1:] + 1])
            g.create_dataset("obs/robot0_eef_pos", data=full[:T])
            g.create_dataset("next_obs/robot0_eef_pos", data=full[1:])
            g.create_dataset("obs/object", data=full[:T, :2] * 2)
            g.create_dataset("next_obs/object", data=full[1:, :2] * 2)
            g.create_dataset("actions", data=a["action"].astype(np.float64))
            g.create_dataset("rewards", data=a["reward"])
            dones = np.zeros(T, np.int64)
            dones[-1] = 1
            g.create_dataset("dones", data=dones)
            g.create_dataset("states", data=np.zeros((T, 9)))
            a["full"] = full
        data.attrs["total"] = sum(lengths)
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": {"control_freq": 20}})
        f.create_dataset("mask/train", data=np.array([b"demo_0", b"demo_1", b"demo_3"]))
        f.create_dataset("mask/valid", data=np.array([b"demo_2"]))
    return eps


def _box(shape):
    n = int(np.prod(shape))
    return {"type": "Box", "dtype": "float32", "shape": list(shape), "low": [-1.0] * n, "high": [1.0] * n}


def make_minari_hdf5(root: Path, lengths=(5, 3)):
    """Dict observation space {'observation', 'desired_goal'}; observations have T+1 rows."""
    eps = _arrays(lengths, seed=3)
    d = root / "data"
    d.mkdir(parents=True)
    with h5py.File(d / "main_data.hdf5", "w") as f:
        for i, a in enumerate(eps):
            T = len(a["action"])
            g = f.create_group(f"episode_{i}")
            g.attrs.update({"id": i, "total_steps": T, "seed": 100 + i})
            a["obs"] = np.concatenate([a["state"], a["state"][-1:] - 1])
            a["goal"] = np.tile(np.float32([0.5, -0.5]), (T + 1, 1))
            g.create_dataset("observations/observation", data=a["obs"])
            g.create_dataset("observations/desired_goal", data=a["goal"])
            g.create_dataset("actions", data=a["action"])
            g.create_dataset("rewards", data=a["reward"].astype(np.float64))
            term = np.zeros(T, bool)
            term[-1] = i == 0
            g.create_dataset("terminations", data=term)
            g.create_dataset("truncations", data=np.zeros(T, bool))
            g.create_dataset("infos/success", data=np.r_[np.zeros(T, bool), i == 0])
    space = {"type": "Dict", "subspaces": {"observation": _box((3,)), "desired_goal": _box((2,))}}
    meta = {"dataset_id": "test/pointmaze-v0", "minari_version": "0.5.1", "total_episodes": len(eps),
            "total_steps": sum(lengths), "data_format": "hdf5", "observation_space": json.dumps(space),
            "action_space": json.dumps(_box((2,))), "env_spec": None}
    (d / "metadata.json").write_text(json.dumps(meta))
    return eps


def make_minari_arrow(root: Path, lengths=(4, 6), fmt="arrow"):
    """Box observation space in Minari's Arrow (or Parquet) storage: data/<id>/ per episode, columns padded
    to T+1; infos are JSON text (arrow) or a struct with a per-step `success` (parquet)."""
    import pyarrow.dataset as pads

    eps = _arrays(lengths, seed=4)
    d = root / "data"
    d.mkdir(parents=True)
    for i, a in enumerate(eps):
        T = len(a["action"])
        a["obs"] = np.concatenate([a["state"], a["state"][-1:] * 0])

        def fsl(x):
            return pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), x.shape[1])

        batch = pa.RecordBatch.from_pydict({
            "episode_id": pa.array(np.full(T + 1, i, np.int32)), "observations": fsl(a["obs"]),
            "actions": fsl(np.concatenate([a["action"], np.zeros((1, 2), np.float32)])),
            "rewards": pa.array(np.r_[a["reward"], 0.0]), "terminations": pa.array(np.r_[np.zeros(T, bool), False]),
            "truncations": pa.array(np.r_[np.zeros(T - 1, bool), True, False]),
            "infos": pa.array([json.dumps({}) for _ in range(T + 1)]) if fmt == "arrow" else
            pa.StructArray.from_arrays([pa.array((np.arange(T + 1) == T) & (i == 0))], names=["success"])})
        pads.write_dataset(batch, d, format=fmt, partitioning=["episode_id"],
                           existing_data_behavior="overwrite_or_ignore")
        (d / str(i) / "metadata.json").write_text(json.dumps({"id": i, "total_steps": T}))
    meta = {"dataset_id": "test/box-v0", "total_episodes": len(eps), "total_steps": sum(lengths), "data_format": fmt,
            "observation_space": json.dumps(_box((3,))), "action_space": json.dumps(_box((2,)))}
    (d / "metadata.json").write_text(json.dumps(meta))
    return eps


@pytest.fixture
def native_dataset(make_episode):
    """A native Dataset using every protege field: labels with a mask, who acted, interventions, a kept
    final observation, per-episode info."""
    from protege.data import Dataset
    from protege.specs import ArraySpec, Spec

    eps = []
    for i in range(3):
        T = 6 + i
        e = make_episode(T=T, seed=i, labels=np.full((T, 2), 0.5, np.float32), label_mask=np.arange(T) % 2 == 0,
                         source=(np.arange(T) % 3).astype(np.uint8), intervened=np.arange(T) > 3, success=i != 1,
                         info={"seed": i, "task": "toy"})
        obs = dict(e.observations)
        obs["state"] = np.concatenate([obs["state"], obs["state"][-1:] + 1])  # (T+1, 3)
        eps.append(type(e)(**{**e.__dict__, "observations": obs}))
    spec = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=(-1, -1), high=(1, 1)), fps=15.0)
    meta = {"task": "toy", "provenance": {"command": "test"}}
    return Dataset(eps, spec, meta)


def image_dataset(T=8, n=2):
    """Native episodes with a camera key ((H, W, 3) uint8) beside the state."""
    from protege.data import Dataset, Episode
    from protege.specs import ArraySpec, Spec

    rng = np.random.default_rng(5)
    eps = [Episode(observations={"state": rng.normal(size=(T, 3)).astype(np.float32), "cam": _frames(T, 7 * i)},
                   actions=rng.uniform(-1, 1, (T, 2)).astype(np.float32), success=True, info={"i": i})
           for i in range(n)]
    spec = Spec({"state": ArraySpec((3,)), "cam": ArraySpec((H, W, 3), "uint8")}, ArraySpec((2,)), fps=FPS)
    return Dataset(eps, spec, {"task": "look"})


@pytest.fixture
def layouts():
    """The generators above, for test modules (conftest functions are not imported directly)."""
    return SimpleNamespace(lerobot_v3=make_lerobot_v3, lerobot_v21=make_lerobot_v21, robomimic=make_robomimic,
                           minari_hdf5=make_minari_hdf5, minari_arrow=make_minari_arrow, images=image_dataset,
                           fps=FPS, frames=_frames)


def _assert_same(a, b):
    """Two Datasets hold equal arrays, flags, info and metadata (spec, task)."""
    assert len(a) == len(b) and a.spec == b.spec and a.meta.get("task") == b.meta.get("task")
    for x, y in zip(a.episodes, b.episodes):
        assert x.observations.keys() == y.observations.keys()
        for k in x.observations:
            np.testing.assert_array_equal(x.observations[k], y.observations[k])
        for name in ("actions", "rewards", "labels", "label_mask", "source", "intervened"):
            u, v = getattr(x, name), getattr(y, name)
            assert (u is None) == (v is None), name
            if u is not None:
                np.testing.assert_array_equal(u, v)
        assert x.success == y.success and x.info == y.info


@pytest.fixture
def assert_same():
    return _assert_same
