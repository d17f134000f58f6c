"""Writing a Dataset as a LeRobot v3.0 folder (layout: see `lerobot.py`).

Vector observations become `observation.<key>` (`state` -> `observation.state`), image observations
((H, W, 3) uint8) become `observation.images.<key>` videos (H.264 mp4, several episodes per file),
actions `action`, rewards `next.reward`, the success flag `next.success` on the last frame. What LeRobot
has no column for (expert labels, who acted, interventions, the final observation, episode info) goes
into `protege.*` features and `protege/*` episode columns, so a round trip loses nothing; LeRobot's own
loader ignores them. It writes to the folder it is given; `convert` hands it a temporary one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from protege.data.formats.arrowcols import from_numpy, pandas_index_metadata
from protege.data.formats.common import is_image_spec, native_meta
from protege.data.formats.lerobot import PROTEGE_META
from protege.data.formats.video import VideoWriter
from protege.data.native import Dataset, write_json
from protege.data.stats import array_stats
from protege.progress import Progress, bar

CHUNKS_SIZE = 1000  # files per chunk folder, LeRobot's default
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"


def feature_name(key: str, image: bool) -> str:
    if key.startswith("observation.") or key == "action":
        return key
    return f"observation.images.{key}" if image else f"observation.{key}"


def _stats(x: np.ndarray) -> dict[str, list]:
    return {**array_stats(x), "count": [len(x)]}


def _image_stats(frames: np.ndarray) -> dict[str, list]:
    """Per-channel stats in [0, 1], shaped (3, 1, 1) as LeRobot stores them for cameras."""
    x = frames[:: max(1, len(frames) // 500)].reshape(-1, 3).astype(np.float64) / 255.0
    s = {k: np.asarray(v).reshape(3, 1, 1).tolist() for k, v in _stats(x).items() if k != "count"}
    s["count"] = [len(frames)]
    return s


def write_lerobot(ds: Dataset, root: str | Path, robot_type: str | None = None, data_file_mb: float = 100.0,
                  crf: int = 10, progress: Progress | None = None) -> Path:
    """Write `ds` as LeRobot v3.0 under `root` (created). data_file_mb: start a new data/video file
    after this many MB of frame data (LeRobot's default is 100)."""
    root = Path(root)
    spec = ds.spec
    images = {k for k, s in spec.observation.items() if is_image_spec(s)}
    names = {k: feature_name(k, k in images) for k in spec.observation}
    fps = spec.fps if spec.fps > 0 else float(ds.meta.get("fps") or 0.0)
    fps_out: Any = int(fps) if float(fps).is_integer() else fps
    tasks = sorted({_task_of(e, ds) for e in ds.episodes})
    task_index = {t: i for i, t in enumerate(tasks)}
    eps = ds.episodes

    features: dict[str, dict] = {}
    for k, s in spec.observation.items():
        if k in images:
            features[names[k]] = {"dtype": "video", "shape": list(s.shape), "names": ["height", "width", "channels"]}
        else:
            features[names[k]] = {"dtype": s.dtype, "shape": list(s.shape), "names": None}
    features["action"] = {"dtype": "float32", "shape": list(spec.action.shape), "names": None}
    has = {f: all(getattr(e, f) is not None for e in eps) for f in ("rewards", "labels", "source", "intervened")}
    if has["rewards"]:
        features["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    features["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    features["next.success"] = {"dtype": "bool", "shape": [1], "names": None}
    if has["labels"]:
        features["protege.labels"] = {"dtype": "float32", "shape": list(spec.action.shape), "names": None}
        features["protege.label_mask"] = {"dtype": "bool", "shape": [1], "names": None}
    if has["source"]:
        features["protege.source"] = {"dtype": "uint8", "shape": [1], "names": None}
    if has["intervened"]:
        features["protege.intervened"] = {"dtype": "bool", "shape": [1], "names": None}
    for f in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        features[f] = {"dtype": "float32" if f == "timestamp" else "int64", "shape": [1], "names": None}

    b = bar(progress, "write LeRobot v3.0", len(eps), "ep")
    chunk, file_idx, file_bytes, pending = 0, 0, 0, []
    videos: dict[str, VideoWriter] = {}
    ep_rows, all_cols = [], {name: [] for name in features if features[name]["dtype"] != "video"}
    index = 0

    def flush() -> None:
        nonlocal pending, file_bytes
        if pending:
            table = pa.concat_tables(pending)
            path = root / DATA_PATH.format(chunk_index=chunk, file_index=file_idx)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
        for w in videos.values():
            w.close()
        videos.clear()
        pending, file_bytes = [], 0

    for ei, ep in enumerate(eps):
        T = len(ep)
        obs = ep.step_observations()
        cols: dict[str, np.ndarray] = {names[k]: obs[k] for k in spec.observation if k not in images}
        cols["action"] = ep.actions
        if has["rewards"]:
            cols["next.reward"] = ep.rewards
        cols["next.done"] = np.arange(T) == T - 1
        cols["next.success"] = (np.arange(T) == T - 1) & ep.success
        if has["labels"]:
            cols["protege.labels"], cols["protege.label_mask"] = ep.labels, ep.label_mask
        if has["source"]:
            cols["protege.source"] = ep.source
        if has["intervened"]:
            cols["protege.intervened"] = ep.intervened
        cols["timestamp"] = (np.arange(T) / fps).astype(np.float32) if fps else np.zeros(T, np.float32)
        cols["frame_index"] = np.arange(T, dtype=np.int64)
        cols["episode_index"] = np.full(T, ei, np.int64)
        cols["index"] = np.arange(index, index + T, dtype=np.int64)
        cols["task_index"] = np.full(T, task_index[_task_of(ep, ds)], np.int64)
        for name, arr in cols.items():
            all_cols[name].append(arr)
        pending.append(pa.table({name: from_numpy(arr) for name, arr in cols.items()}))
        file_bytes += sum(a.nbytes for a in cols.values())

        row: dict[str, Any] = {"episode_index": ei, "tasks": [_task_of(ep, ds)], "length": T,
                               "data/chunk_index": chunk, "data/file_index": file_idx,
                               "dataset_from_index": index, "dataset_to_index": index + T}
        for k in sorted(images):
            w = videos.get(k)
            if w is None:
                h, wd, _ = spec.observation[k].shape
                w = videos[k] = VideoWriter(root / VIDEO_PATH.format(video_key=names[k], chunk_index=chunk,
                                                                     file_index=file_idx), fps, h, wd, crf)
                features[names[k]]["info"] = w.info()
            start = w.frames
            w.append(obs[k])
            file_bytes += obs[k].nbytes // 20  # mp4 is far smaller than raw frames
            row.update({f"videos/{names[k]}/chunk_index": chunk, f"videos/{names[k]}/file_index": file_idx,
                        f"videos/{names[k]}/from_timestamp": start / fps, f"videos/{names[k]}/to_timestamp": (start + T) / fps})
        for name, arr in cols.items():
            if name in features and features[name]["dtype"] not in ("bool",) and name not in ("timestamp",):
                for stat, v in _stats(arr).items():
                    row[f"stats/{name}/{stat}"] = v
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
        row["protege/success"] = bool(ep.success)
        row["protege/info"] = json.dumps(ep.info)
        for k, v in ep.observations.items():
            if len(v) == T + 1:
                row[f"protege/final/{k}"] = v[T].reshape(-1).tolist()
        ep_rows.append(row)
        index += T
        b.update(1)
        if file_bytes > data_file_mb * 1e6:
            flush()
            file_idx += 1
            if file_idx == CHUNKS_SIZE:
                chunk, file_idx = chunk + 1, 0
    flush()
    b.close()

    _write_episodes_table(root, ep_rows)
    names_col = pa.array(tasks, pa.string())
    task_table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": names_col})
    task_table = task_table.replace_schema_metadata(pandas_index_metadata("task", {"task_index": "int64", "task": "unicode"}))
    pq.write_table(task_table, root / "meta" / "tasks.parquet")

    stats = {name: _stats(np.concatenate(v)) for name, v in all_cols.items()}
    for k in images:
        stats[names[k]] = _image_stats(np.concatenate([e.step_observations()[k] for e in eps]))
    write_json(root / "meta" / "stats.json", stats)
    info = {"codebase_version": "v3.0", "robot_type": robot_type, "total_episodes": len(eps), "total_frames": index,
            "total_tasks": len(tasks), "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": data_file_mb,
            "video_files_size_in_mb": 500, "fps": fps_out, "splits": {"train": f"0:{len(eps)}"},
            "data_path": DATA_PATH, "video_path": VIDEO_PATH if images else None, "features": features}
    write_json(root / "meta" / "info.json", info)
    write_json(root / PROTEGE_META, native_meta(ds))
    return root


def _task_of(ep, ds: Dataset) -> str:
    return str(ep.info.get("task") or ds.meta.get("task") or "")


def _write_episodes_table(root: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    cols = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        cols[k] = pa.array(vals)
    path = root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
