"""Reading LeRobot datasets: v3.0 (several episodes per parquet/mp4 file) and the older v2.1/v2.0.

v3.0 layout (what `LeRobotDataset` writes, from lerobot's `datasets/utils.py`):

    meta/info.json                                  codebase_version, fps, features, path templates, totals
    meta/stats.json                                 per-feature min/max/mean/std/count
    meta/tasks.parquet                              task text (pandas index) -> task_index
    meta/episodes/chunk-XXX/file-XXX.parquet        one row per episode: length, tasks, data/chunk_index,
                                                    data/file_index, dataset_from_index/_to_index,
                                                    videos/<key>/{chunk_index,file_index,from_timestamp,to_timestamp}
    data/chunk-XXX/file-XXX.parquet                 one row per frame, many episodes per file
    videos/<key>/chunk-XXX/file-XXX.mp4             camera frames, many episodes per file

v2.1: `meta/episodes.jsonl`, `meta/tasks.jsonl`, one parquet (and one mp4 per camera) per episode.

Observation features (`observation.*`) become native keys without the `observation.` prefix (and without
`images.` for cameras): `observation.state` -> `state`. Camera frames are decoded only when asked for:
`LeRobotReader.frames` decodes one span of one episode (one seek), `LazyFrames` serves a camera as an
array indexed by global step that decodes per batch; `load_lerobot` loads the vector features into
memory and gives each episode a camera named in `obs_keys` as an `EpisodeFrames` (a `FrameArray` that
decodes only the frames indexed), so a video dataset trains in place. It never imports lerobot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow.parquet as pq

from protege.data.episode import Episode
from protege.data.formats.arrowcols import to_numpy
from protege.data.formats.common import load_json, make_dataset, require, select_keys
from protege.data.formats.video import read_frames
from protege.data.native import Dataset
from protege.errors import ProtegeError, bad_input
from protege.progress import Progress, bar_scope
from protege.specs import ArraySpec, Spec

SUPPORTED = ("v3.0", "v2.1", "v2.0")
# Columns every LeRobot frame has; not observations.
INDEX_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")
PROTEGE_META = "meta/protege.json"  # native metadata kept by our writer (task, provenance, splits, bounds)


def native_key(feature: str) -> str:
    key = feature.removeprefix("observation.")
    return key.removeprefix("images.") if key.startswith("images.") else key


def lerobot_version(root: Path) -> str:
    info = load_json(root / "meta" / "info.json")
    version = str(info.get("codebase_version", ""))
    if version not in SUPPORTED:
        raise bad_input(root / "meta" / "info.json", "codebase_version", f"a LeRobot dataset version in {list(SUPPORTED)}",
                        repr(info.get("codebase_version")))
    return version


@dataclass
class _EpisodeRef:
    index: int
    length: int
    tasks: list[str]
    data_file: Path
    videos: dict[str, tuple[Path, float]] = field(default_factory=dict)  # key -> (mp4, from_timestamp)
    extra: dict[str, Any] = field(default_factory=dict)  # protege/* columns of the episodes table


class LeRobotReader:
    """Index of a LeRobot dataset folder; reads episodes and camera frames on demand."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.info_path = self.root / "meta" / "info.json"
        self.version = lerobot_version(self.root)
        self.info = load_json(self.info_path)
        self.fps = float(require(self.info, "fps", self.info_path, "the frame rate 'fps'"))
        self.features: dict[str, dict] = require(self.info, "features", self.info_path, "a 'features' dict")
        if "action" not in self.features:
            raise bad_input(self.info_path, "features/action", "an 'action' feature", f"features {sorted(self.features)}")
        for name, ft in self.features.items():
            for k in ("dtype", "shape"):
                require(ft, k, self.info_path, f"'{k}' in feature '{name}'")
        self.camera_keys = [k for k, ft in self.features.items() if ft["dtype"] in ("video", "image")]
        self.vector_keys = [k for k, ft in self.features.items() if k.startswith("observation.")
                            and ft["dtype"] not in ("video", "image", "string")]
        self.native_meta = load_json(self.root / PROTEGE_META) if (self.root / PROTEGE_META).exists() else {}
        self.episodes = self._episodes_v3() if self.version == "v3.0" else self._episodes_v2()
        self._table_cache: tuple[Path, Any] | None = None

    # -- episode index ---------------------------------------------------------------------------------
    def _episodes_v3(self) -> list[_EpisodeRef]:
        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise bad_input(self.root / "meta" / "episodes", None, "chunk-XXX/file-XXX.parquet episode tables", "none")
        data_tpl = require(self.info, "data_path", self.info_path, "a 'data_path' template")
        video_tpl = self.info.get("video_path")
        refs = []
        for f in files:
            table = _read_parquet(f)
            rows = table.to_pylist()
            for col in ("episode_index", "length", "data/chunk_index", "data/file_index"):
                if col not in table.column_names:
                    raise bad_input(f, col, f"a '{col}' column", f"columns {table.column_names[:10]}")
            for r in rows:
                videos = {}
                for key in self.camera_keys:
                    if self.features[key]["dtype"] != "video":
                        continue
                    need = f"videos/{key}/chunk_index"
                    if need not in r or video_tpl is None:
                        raise bad_input(f, need, f"video location columns for camera '{key}'", "none")
                    mp4 = self.root / video_tpl.format(video_key=key, chunk_index=r[need],
                                                       file_index=r[f"videos/{key}/file_index"])
                    videos[key] = (mp4, float(r[f"videos/{key}/from_timestamp"]))
                data_file = self.root / data_tpl.format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
                refs.append(_EpisodeRef(int(r["episode_index"]), int(r["length"]), list(r.get("tasks") or []), data_file,
                                        videos, {k: v for k, v in r.items() if k.startswith("protege/")}))
        return sorted(refs, key=lambda e: e.index)

    def _episodes_v2(self) -> list[_EpisodeRef]:
        path = self.root / "meta" / "episodes.jsonl"
        if not path.exists():
            raise bad_input(path, None, f"meta/episodes.jsonl (LeRobot {self.version})", "no such file")
        data_tpl = require(self.info, "data_path", self.info_path, "a 'data_path' template")
        video_tpl = self.info.get("video_path")
        chunks = int(self.info.get("chunks_size", 1000))
        refs = []
        for n, line in enumerate(path.read_text().splitlines()):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise bad_input(path, f"line {n + 1}", "a JSON object", f"malformed JSON ({e})") from None
            ep = int(require(r, "episode_index", path, "'episode_index' on every line"))
            length = int(require(r, "length", path, "'length' on every line"))
            videos = {k: (self.root / video_tpl.format(episode_chunk=ep // chunks, video_key=k, episode_index=ep), 0.0)
                      for k in self.camera_keys if self.features[k]["dtype"] == "video" and video_tpl}
            refs.append(_EpisodeRef(ep, length, list(r.get("tasks") or []),
                                    self.root / data_tpl.format(episode_chunk=ep // chunks, episode_index=ep), videos))
        return sorted(refs, key=lambda e: e.index)

    # -- reading -------------------------------------------------------------------------------------
    def _table(self, path: Path):
        if self._table_cache is None or self._table_cache[0] != path:
            self._table_cache = (path, _read_parquet(path))
        return self._table_cache[1]

    def _rows(self, ref: _EpisodeRef) -> Any:
        table = self._table(ref.data_file)
        if "episode_index" not in table.column_names:
            raise bad_input(ref.data_file, "episode_index", "an 'episode_index' column", f"columns {table.column_names[:10]}")
        idx = np.flatnonzero(table.column("episode_index").to_numpy() == ref.index)
        if len(idx) != ref.length:
            raise bad_input(ref.data_file, f"episode_index == {ref.index}", f"{ref.length} rows (the episode's length)",
                            f"{len(idx)}")
        rows = table.slice(int(idx[0]), len(idx)) if len(idx) and idx[-1] - idx[0] + 1 == len(idx) else table.take(idx)
        if "frame_index" in rows.column_names:
            order = np.argsort(rows.column("frame_index").to_numpy(), kind="stable")
            if not np.array_equal(order, np.arange(len(order))):
                rows = rows.take(order)
        return rows

    def column(self, rows: Any, ref: _EpisodeRef, name: str) -> np.ndarray:
        shape = tuple(self.features[name]["shape"])
        if name not in rows.column_names:
            raise bad_input(ref.data_file, name, f"a column for feature '{name}' (listed in info.json)", "no such column")
        arr = to_numpy(rows.column(name), () if shape == (1,) else shape, ref.data_file, name)
        return arr

    def frames(self, key: str, episode: int, indices: Sequence[int] | None = None) -> np.ndarray:
        """Camera frames of one episode (N, H, W, 3) uint8, decoding only frames min..max of `indices`."""
        ref = self.episodes[self._position(episode)]
        idx = np.arange(ref.length) if indices is None else np.asarray(indices)
        h, w, _ = self.features[key]["shape"]
        if self.features[key]["dtype"] == "image":
            return self._png_frames(ref, key, idx)
        mp4, t0 = ref.videos[key]
        first = int(round(t0 * self.fps)) + int(idx.min())
        got = read_frames(mp4, first, int(idx.max() - idx.min()) + 1, self.fps, h, w)
        return got[idx - idx.min()]

    def _png_frames(self, ref: _EpisodeRef, key: str, idx: np.ndarray) -> np.ndarray:
        import imageio.v3 as iio

        col = self._rows(ref).column(key).to_pylist()
        return np.stack([iio.imread(col[i]["bytes"]) for i in idx]).astype(np.uint8)

    def _position(self, episode: int) -> int:
        for i, ref in enumerate(self.episodes):
            if ref.index == episode:
                return i
        raise ProtegeError(f"{self.root}: expected episode {episode}, found episodes {[e.index for e in self.episodes][:10]}...")

    def episode(self, ref: _EpisodeRef, keys: list[str]) -> Episode:
        rows = self._rows(ref)
        obs: dict[str, Any] = {}
        for key in keys:
            if key in self.camera_keys:  # decoded only when a consumer indexes it
                final = ref.extra.get(f"protege/final/{native_key(key)}")
                obs[native_key(key)] = EpisodeFrames(self, key, ref, final)
            else:
                obs[native_key(key)] = self.column(rows, ref, key)
        for key in list(obs):
            final = ref.extra.get(f"protege/final/{key}")
            if final is not None and not isinstance(obs[key], EpisodeFrames):  # the final observation our writer kept
                obs[key] = np.concatenate([obs[key], np.asarray(final, obs[key].dtype).reshape(1, *obs[key].shape[1:])])
        actions = self.column(rows, ref, "action").reshape(ref.length, -1)
        opt = {name: self.column(rows, ref, col) for name, col in (
            ("rewards", "next.reward"), ("labels", "protege.labels"), ("label_mask", "protege.label_mask"),
            ("source", "protege.source"), ("intervened", "protege.intervened")) if col in self.features}
        if "labels" in opt:
            opt["labels"] = opt["labels"].reshape(ref.length, -1)
        if "protege/success" in ref.extra:
            success = bool(ref.extra["protege/success"])
        elif "next.success" in self.features:
            success = bool(self.column(rows, ref, "next.success").any())
        else:
            success = False
        if ref.extra.get("protege/info") is not None:  # written by protege: restore the episode's own info
            info = json.loads(ref.extra["protege/info"])
        else:
            info = {"lerobot_episode_index": ref.index}
            if ref.tasks:
                info["task"] = ref.tasks[0] if len(ref.tasks) == 1 else ref.tasks
        return Episode(observations=obs, actions=actions, success=success, info=info,
                       origin=f"{ref.data_file} (episode {ref.index})", **opt)


class EpisodeFrames:
    """One camera of one episode as a `FrameArray` (T or T+1, H, W, 3) uint8: indexing decodes the frames
    asked for, one seek into the mp4 per run of them, decoding through a gap between two wanted frames
    only when it is narrower than `max_gap_pixels`; nothing is cached, so an episode holds no pixels.
    `final`: the flattened final observation our writer keeps beside the video (frame T), or None.
    `decoded_frames` counts the frames decoded so far."""

    # Starting a decoder (one ffmpeg process) costs ~50 ms, about as much as decoding 8 Mpx of frames: a
    # wider gap is skipped by another seek. Small frames (a whole 84x84 episode is ~7 Mpx) keep one decoder
    # call per episode and batch; 480x640 frames seek past gaps over ~26 frames, so two samples far apart in
    # a long episode never decode (and hold in memory) the hundreds of frames between them.
    max_gap_pixels = 8_000_000

    def __init__(self, reader: LeRobotReader, key: str, ref: _EpisodeRef, final: Any = None):
        self.reader, self.key, self.ref = reader, key, ref
        frame_shape = tuple(int(s) for s in reader.features[key]["shape"])
        self.final = None if final is None else np.asarray(final, np.uint8).reshape(frame_shape)
        self.shape = (ref.length + (self.final is not None), *frame_shape)
        self.dtype = np.dtype(np.uint8)
        self.decoded_frames = 0

    ndim = 4

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"EpisodeFrames({self.key}, episode {self.ref.index}, shape={self.shape})"

    def __getitem__(self, idx: Any) -> np.ndarray:
        scalar = isinstance(idx, (int, np.integer))
        n = len(self)
        flat = np.arange(n)[idx] if isinstance(idx, slice) else np.atleast_1d(np.asarray(idx, np.int64))
        flat = np.where(flat < 0, flat + n, flat)
        if flat.size and (flat.min() < 0 or flat.max() >= n):
            raise IndexError(f"frame index out of range [0, {n})")
        out = np.empty((len(flat), *self.shape[1:]), np.uint8)
        video = flat < self.ref.length
        if video.any():
            out[video] = self._decode(flat[video])
        if (~video).any():
            out[~video] = self.final
        return out[0] if scalar else out

    def _decode(self, want: np.ndarray) -> np.ndarray:
        """Video frames `want` (any order, repeats allowed) -> (len(want), H, W, 3), each decoded once."""
        frames = np.unique(want)
        gap = max(1, self.max_gap_pixels // (self.shape[1] * self.shape[2]))
        decoded = np.empty((len(frames), *self.shape[1:]), np.uint8)
        start = 0
        for run in np.split(frames, np.flatnonzero(np.diff(frames) > gap) + 1):
            decoded[start:start + len(run)] = self.reader.frames(self.key, self.ref.index, run)
            self.decoded_frames += int(run[-1] - run[0]) + 1
            start += len(run)
        return decoded[np.searchsorted(frames, want)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype: Any) -> np.ndarray:
        """Every frame, decoded, as `dtype` (as ndarray.astype; for code written for in-memory frames)."""
        return self[:].astype(dtype)


class LazyFrames:
    """One camera of a LeRobot dataset as an (N, H, W, 3) uint8 array indexed by global step, decoded on
    access: `frames[idx]` decodes, per episode touched, only the span between the lowest and highest
    requested frame, and keeps the last `cache_episodes` decoded spans. For training loops whose batches
    need pixels: the vector data lives in memory, the pixels stay in the mp4s until a batch asks."""

    def __init__(self, reader: LeRobotReader, key: str, cache_episodes: int = 8):
        if key not in reader.camera_keys:
            raise bad_input(reader.info_path, f"features/{key}", f"a camera feature among {reader.camera_keys}", "none")
        self.reader, self.key, self.cache_episodes = reader, key, cache_episodes
        lengths = np.array([e.length for e in reader.episodes])
        self.starts = np.concatenate([[0], np.cumsum(lengths)])
        self.shape = (int(lengths.sum()), *reader.features[key]["shape"])
        self.decoded_frames = 0  # how many frames were decoded so far (the cost of laziness, observable)
        self._cache: dict[int, tuple[int, np.ndarray]] = {}  # position -> (first frame, frames)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx) -> np.ndarray:
        scalar = isinstance(idx, (int, np.integer))
        flat = np.arange(len(self))[idx] if isinstance(idx, slice) else np.atleast_1d(np.asarray(idx, np.int64))
        if flat.size and (flat.min() < 0 or flat.max() >= len(self)):
            raise IndexError(f"frame index out of range [0, {len(self)})")
        pos = np.searchsorted(self.starts, flat, side="right") - 1
        out = np.empty((len(flat), *self.shape[1:]), np.uint8)
        for p in np.unique(pos):
            sel = pos == p
            local = flat[sel] - self.starts[p]
            first, frames = self._span(int(p), int(local.min()), int(local.max()))
            out[sel] = frames[local - first]
        return out[0] if scalar else out

    def _span(self, p: int, lo: int, hi: int) -> tuple[int, np.ndarray]:
        hit = self._cache.get(p)
        if hit is not None and hit[0] <= lo and hi < hit[0] + len(hit[1]):
            return hit
        ref = self.reader.episodes[p]
        frames = self.reader.frames(self.key, ref.index, np.arange(lo, hi + 1))
        self.decoded_frames += len(frames)
        self._cache.pop(p, None)
        self._cache[p] = (lo, frames)
        while len(self._cache) > self.cache_episodes:
            self._cache.pop(next(iter(self._cache)))
        return lo, frames


def _read_parquet(path: Path):
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise bad_input(path, None, "an existing parquet file", "no such file") from None
    except Exception as e:  # pyarrow raises several types for damaged files
        raise bad_input(path, None, "a readable parquet file", f"{type(e).__name__}: {e}") from None


def load_lerobot(root: str | Path, obs_keys: Sequence[str] | None = None, progress: Progress | None = None) -> Dataset:
    """Read a LeRobot v3.0 / v2.1 folder into a Dataset.

    obs_keys: LeRobot feature names or native names, chosen and ordered; default: every vector
    `observation.*` feature in info.json order (camera keys are decoded only when named here).
    """
    reader = LeRobotReader(root)
    aliases = {k: native_key(k) for k in reader.vector_keys + reader.camera_keys}
    keys = select_keys(reader.vector_keys + reader.camera_keys, obs_keys, reader.info_path, aliases) \
        if obs_keys is not None else list(reader.vector_keys)
    if not keys:
        raise bad_input(reader.info_path, "features", "at least one vector 'observation.*' feature (or --obs-keys "
                        f"naming a camera among {reader.camera_keys})", f"features {sorted(reader.features)}")
    episodes = []
    with bar_scope(progress, f"read LeRobot {reader.version}", len(reader.episodes), "ep") as b:
        for ref in reader.episodes:  # a read error discards the bar: nothing is drawn after the error
            episodes.append(reader.episode(ref, keys))
            b.update(1)
    nm = reader.native_meta
    tasks = {t for e in reader.episodes for t in e.tasks}
    task = nm.get("task") or (next(iter(tasks)) if len(tasks) == 1 else None)
    obs_spec = {native_key(k): ArraySpec(tuple(reader.features[k]["shape"]) if k in reader.camera_keys
                                         else episodes[0].observations[native_key(k)].shape[1:],
                                         "uint8" if k in reader.camera_keys else _dtype(reader.features[k]["dtype"]))
                for k in keys}
    act = nm.get("spec", {}).get("action", {})
    spec = Spec(obs_spec, ArraySpec(episodes[0].actions.shape[1:], low=act.get("low"), high=act.get("high")), reader.fps)
    extra = {k: v for k, v in nm.items() if k == "splits"}
    if len(tasks) > 1:
        extra["tasks"] = sorted(tasks)
    return make_dataset(episodes, reader.root, "lerobot", reader.version, reader.fps, task,
                        {native_key(k): k for k in keys}, spec=spec, extra_meta=extra,
                        provenance=nm.get("provenance"))


def _dtype(name: str) -> str:
    return "float32" if np.dtype(name).kind == "f" else name
