"""The native on-disk dataset format: a folder, nothing to install.

    dataset/
      meta.json              format version, spec, fps, task, counts, provenance
      episodes/000000.npz    one episode per file, written to a temporary name and renamed
      stats.json             normalisation statistics (recomputable from the episodes)

A crash loses at most the episode being written: each episode file appears whole or not at all, and
meta.json is rewritten atomically after every episode. The reader trusts the episode files, not the
counts in meta.json. Files load with `allow_pickle=False`, always, and every array's header is checked
against the bytes the archive actually holds before anything is allocated.

Camera keys are stored as one PNG per frame inside the episode's .npz (`framestore.py`) and load lazily:
an episode read from disk holds a `PngFrames` per camera (the file path and frame offsets, not the
frames) that decodes only the frames asked for.

One writer at a time: `DatasetWriter` holds a lock on the folder (`data/atomic.py`). Overwriting an
existing dataset writes the new one into a staging folder and swaps it in only when it is complete, so
the old episodes survive until the new recording has succeeded.

The seed format (a folder of .npz files holding `observations` (T, obs_dim) and `actions` (T, act_dim),
optionally per-step `rewards`, `success`, `terminated`, `truncated` of shape (T,)) reads as-is, with its
observations under the key `state`.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from protege import __version__
from protege.data.atomic import (LOCK_NAME, FolderLock, atomic_write_bytes, carry_over, commit_folder,
                                 existing_folder, recover_folder, start_stage, write_json)
from protege.data.episode import Episode
from protege.data.frames import is_image_array
from protege.data.framestore import DATA, OFFSETS, SHAPE, PngFrames, check_layout, encode_frames
from protege.data.stats import compute_stats
from protege.errors import ProtegeError, bad_input
from protege.specs import ArraySpec, Spec

FORMAT_NAME = "protege"
FORMAT_VERSION = 1
STATE_KEY = "state"
DATASET_FILES = ("meta.json", "stats.json", "episodes")


class NoEpisodesError(ProtegeError):
    """A dataset folder without any episode file yet (e.g. a recording that has not finished one)."""


@dataclass
class Dataset:
    """Episodes in memory with their spec and metadata."""

    episodes: list[Episode]
    spec: Spec
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def num_steps(self) -> int:
        return sum(len(e) for e in self.episodes)

    @property
    def num_success(self) -> int:
        return sum(e.success for e in self.episodes)

    @property
    def num_labels(self) -> int:
        return sum(e.num_labels if e.labels is not None else len(e) for e in self.episodes)


def _episode_arrays(ep: Episode, spec: Spec | None = None) -> dict[str, np.ndarray]:
    """The arrays of one episode file. Only the spec's observation keys are written (an env's privileged
    keys, e.g. `privileged.state`, never reach a dataset); camera keys are stored as PNG frames
    (`framestore.py`), everything else as plain arrays."""
    arrays = {}
    for k, v in ep.observations.items():
        if spec is not None and k not in spec.observation:
            continue
        if is_image_array(v):
            for prefix, arr in zip((DATA, OFFSETS, SHAPE), encode_frames(v).values()):
                arrays[f"{prefix}{k}"] = arr
        else:
            arrays[f"obs.{k}"] = v
    arrays["actions"] = ep.actions
    arrays["success"] = np.array(ep.success)
    for name in ("labels", "label_mask", "rewards", "source", "intervened"):
        value = getattr(ep, name)
        if value is not None:
            arrays[name] = value
    if ep.info:
        arrays["info"] = np.array(json.dumps(ep.info))
    return arrays


class DatasetWriter:
    """Appends episodes to a native dataset folder, one atomic file each, holding the folder's lock.

    Use as a context manager; `close()` writes stats.json, swaps in an overwriting dataset and releases
    the lock. If the process dies, every episode already added stays loadable and `load_dataset`
    recomputes the statistics; an overwrite that dies (or raises inside the `with`) leaves the old dataset.
    """

    def __init__(self, root: str | Path, spec: Spec, task: str | None = None, provenance: dict | None = None,
                 overwrite: bool = False, append: bool = False, lock: FolderLock | None = None):
        """append: continue an existing dataset at `root` (same spec) instead of refusing it.
        lock: the folder's lock when the caller already holds it (it is released by `close()`)."""
        self.root = Path(root)
        self.spec = spec
        if self.root.exists() and not self.root.is_dir():
            raise bad_input(self.root, None, "a dataset folder (or a new path)", "a file")
        self._lock = lock or FolderLock(self.root)
        self._stage: Path | None = None
        try:
            self._open(task, provenance, overwrite, append)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, task: str | None, provenance: dict | None, overwrite: bool, append: bool) -> None:
        recover_folder(self.root)
        self.dir = self.root  # where files are written: the staging folder while overwriting
        if append and (self.root / "meta.json").exists():
            if _episode_files(self.root):
                self.episodes_dir = self.root / "episodes"
                self._open_existing()
                return
            overwrite = True  # a dataset folder with no episode yet: start it afresh
        existing = self.root.exists() and any(p.name != LOCK_NAME for p in self.root.iterdir())
        if existing and not overwrite:
            if (self.root / "meta.json").exists():
                raise ProtegeError(f"{self.root}: expected an empty or new folder, found an existing dataset "
                                   f"(pass --overwrite to replace it, or choose another --out)")
            raise ProtegeError(f"{self.root}: expected an empty or new folder, found other files")
        if existing and _episode_files(self.root):
            self._stage = self.dir = start_stage(self.root)  # the old episodes stay until close()
        self.episodes_dir = self.dir / "episodes"
        self.episodes_dir.mkdir(parents=True, exist_ok=True)
        self.meta: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "task": task,
            "fps": self.spec.fps,
            "spec": self.spec.to_dict(),
            "num_episodes": 0,
            "num_steps": 0,
            "num_success": 0,
            "provenance": {"protege_version": __version__,
                           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                           **(provenance or {})},
        }
        self._episodes: list[Episode] = []
        self.save_meta()

    def _open_existing(self) -> None:
        existing = load_dataset(self.root)
        shapes = lambda sp: ({k: v.shape for k, v in sp.observation.items()}, sp.action.shape)  # noqa: E731
        if shapes(existing.spec) != shapes(self.spec):
            raise bad_input(self.root / "meta.json", "spec", self.spec.describe(), existing.spec.describe())
        self.meta = dict(existing.meta)
        # The episode files are the truth (meta.json may lag one episode behind after a crash).
        self.meta.update(num_episodes=len(existing), num_steps=existing.num_steps, num_success=existing.num_success)
        self._episodes = list(existing.episodes)
        self.save_meta()

    def save_meta(self) -> None:
        """Rewrite meta.json (atomically) after changing `self.meta`."""
        write_json(self.dir / "meta.json", self.meta)

    def add(self, ep: Episode) -> Path:
        for key, arr_spec in self.spec.observation.items():
            if key not in ep.observations:
                raise bad_input(self.root, f"observations/{key}", "a key of the dataset spec", "it missing")
            if ep.observations[key].shape[1:] != arr_spec.shape:
                raise bad_input(self.root, f"observations/{key}", f"per-step shape {arr_spec.shape}",
                                f"{ep.observations[key].shape[1:]}")
        if ep.actions.shape[1:] != self.spec.action.shape:
            raise bad_input(self.root, "actions", f"per-step shape {self.spec.action.shape}", f"{ep.actions.shape[1:]}")
        index = self.meta["num_episodes"]
        path = self.episodes_dir / f"{index:06d}.npz"
        arrays = _episode_arrays(ep, self.spec)
        atomic_write_bytes(path, lambda f: np.savez(f, **arrays))
        # kept for stats.json; cameras as lazy views of the file just written, so memory stays flat
        self._episodes.append(read_episode(path) if any(k.startswith(DATA) for k in arrays) else ep)
        self.meta["num_episodes"] += 1
        self.meta["num_steps"] += len(ep)
        self.meta["num_success"] += int(ep.success)
        self.save_meta()
        return path

    def close(self) -> None:
        """Finish: stats.json, then (when overwriting) swap the new dataset in, then release the lock."""
        try:
            if self._episodes:
                write_json(self.dir / "stats.json", compute_stats(self._episodes))
            if self._stage is not None:
                carry_over(self.root, self._stage, skip=DATASET_FILES)
                self._lock.extend_to(self._stage)
                commit_folder(self._stage, self.root)
                self._stage = None
        finally:
            self._lock.release()

    def abandon(self) -> None:
        """Give up an overwrite (the old dataset stays as it was); otherwise the same as `close()`."""
        if self._stage is None:
            return self.close()
        shutil.rmtree(self._stage, ignore_errors=True)
        self._stage = None
        self._lock.release()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


# deflate expands at most ~1032:1; a member claiming more than this over its compressed size is lying
_MAX_DEFLATE_RATIO = 1100


def _check_members(path: Path, z: zipfile.ZipFile) -> dict[str, tuple[zipfile.ZipInfo, int]]:
    """Refuse, before anything is allocated, an .npy member whose header declares more data than the
    archive holds for it (e.g. shape (10**12, 3)), or object (pickled) data. Returns key -> (member, size
    of its .npy header)."""
    archive_size = path.stat().st_size
    members = {}
    for info in z.infolist():
        if not info.filename.endswith(".npy"):
            continue
        key = info.filename[:-4]
        plausible = info.compress_size <= archive_size and (
            info.file_size == info.compress_size if info.compress_type == zipfile.ZIP_STORED
            else info.file_size <= max(info.compress_size, 1) * _MAX_DEFLATE_RATIO)
        if not plausible:
            raise bad_input(path, key, "a member whose sizes agree with the archive",
                            f"{info.file_size} bytes claimed from {info.compress_size} stored")
        with z.open(info) as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, _, dtype = read_header(f)  # the header only, no data
            except (ValueError, EOFError, OSError, SyntaxError) as e:
                raise bad_input(path, key, "an .npy array header", f"unreadable header ({e})") from None
            header_size = f.tell()
        if dtype.hasobject:
            raise bad_input(path, key, "a numeric array", "an object array (pickled data; refused, not loaded)")
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header_size + declared != info.file_size:
            raise bad_input(path, key, f"{declared} bytes of data for shape {tuple(shape)} {dtype}",
                            f"{info.file_size - header_size} bytes in the archive")
        members[key] = (info, header_size)
    return members


def _lazy_source(path: Path, f: Any, z: zipfile.ZipFile, info: zipfile.ZipInfo, header_size: int) -> Any:
    """Where a stored camera's PNG bytes are: (path, absolute offset) for an uncompressed member (np.savez
    stores members uncompressed), read on access; else the bytes themselves."""
    if info.compress_type != zipfile.ZIP_STORED:
        return np.load(z.open(info), allow_pickle=False)
    f.seek(info.header_offset)
    local = f.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise bad_input(path, info.filename[:-4], "a zip local file header", "damaged archive")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return str(path), info.header_offset + 30 + name_len + extra_len + header_size


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(the arrays, key -> lazy source of each camera's PNG bytes `frames.<key>`, not read here)."""
    try:
        lazy: dict[str, Any] = {}
        with zipfile.ZipFile(path) as z, open(path, "rb") as f:
            members = _check_members(path, z)
            for key, (info, header_size) in members.items():
                if key.startswith(DATA):
                    lazy[key[len(DATA):]] = (_lazy_source(path, f, z, info, header_size), info.file_size - header_size)
        with np.load(path, allow_pickle=False) as z:
            out = {}
            for key in z.files:
                if key.startswith(DATA):
                    continue
                try:
                    out[key] = z[key]
                except ValueError as e:
                    raise bad_input(path, key, "a readable array", f"unreadable data ({e})") from None
                except (zipfile.BadZipFile, EOFError, OSError) as e:
                    raise bad_input(path, key, "a complete array", f"corrupt or truncated data ({e})") from None
            return out, lazy
    except ProtegeError:
        raise
    except FileNotFoundError:
        raise bad_input(path, None, "an existing .npz file", "no such file") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise bad_input(path, None, "a readable .npz archive", f"corrupt or truncated data ({e})") from None


def _camera(path: Path, key: str, z: dict[str, np.ndarray], source: Any, nbytes: int) -> PngFrames:
    for prefix in (OFFSETS, SHAPE):
        if prefix + key not in z:
            raise bad_input(path, f"{prefix}{key}", f"'{prefix}{key}' beside '{DATA}{key}'", "it missing")
    shape = check_layout(path, key, z[OFFSETS + key], z[SHAPE + key], nbytes)
    return PngFrames(source, z[OFFSETS + key], shape, origin=f"{path} observations/{key}")


def read_episode(path: str | Path) -> Episode:
    """Read one episode file: native (`obs.<key>`, `actions`, ...) or the seed format (`observations`,
    `actions`, optional per-step `rewards` and `success`; `terminated`/`truncated` are not needed)."""
    path = Path(path)
    z, lazy = _read_npz(path)
    if "actions" not in z:
        raise bad_input(path, "actions", "an 'actions' array", f"keys {sorted(z)}")
    obs: dict[str, Any] = {k[4:]: v for k, v in z.items() if k.startswith("obs.")}
    for key, (source, nbytes) in lazy.items():
        obs[key] = _camera(path, key, z, source, nbytes)
    if "observations" in z:
        o = z["observations"]
        if o.ndim == 1:
            o = o[:, None]
        obs[STATE_KEY] = o
    if not obs:
        raise bad_input(path, "observations", "an 'observations' array or 'obs.<key>' arrays", f"keys {sorted(z)}")
    info = {}
    if "info" in z:
        try:
            info = json.loads(str(z["info"]))
        except json.JSONDecodeError:
            raise bad_input(path, "info", "a JSON string", "malformed JSON") from None
    actions = z["actions"]
    if actions.ndim == 1:
        actions = actions[:, None]
    # native files hold one flag; the seed format may hold one per step: success at any step counts
    success = bool(np.any(z["success"])) if "success" in z else False
    return Episode(observations=obs, actions=actions, labels=z.get("labels"), label_mask=z.get("label_mask"),
                   rewards=z.get("rewards"), success=success, source=z.get("source"),
                   intervened=z.get("intervened"), info=info, origin=str(path))


def _episode_files(root: Path) -> list[Path]:
    folder = root / "episodes" if (root / "episodes").is_dir() else root
    return sorted(p for p in folder.glob("*.npz") if not p.name.startswith("."))


def _infer_spec(episodes: list[Episode], fps: float) -> Spec:
    first = episodes[0]
    obs_spec = {k: ArraySpec(v.shape[1:], "float32" if v.dtype.kind == "f" else str(v.dtype))
                for k, v in first.observations.items()}
    return Spec(observation=obs_spec, action=ArraySpec(first.actions.shape[1:]), fps=fps)


def _check_consistent(episodes: list[Episode], spec: Spec, root: Path) -> None:
    for ep in episodes:
        where = ep.origin or root
        for key, arr_spec in spec.observation.items():
            if key not in ep.observations:
                raise bad_input(where, f"observations/{key}", f"key '{key}' like the rest of the dataset",
                                f"keys {sorted(ep.observations)}")
            found = ep.observations[key].shape[1:]
            if found != arr_spec.shape:
                raise bad_input(where, f"observations/{key}", f"per-step shape {arr_spec.shape} like the rest of the dataset",
                                f"{found}")
        if ep.actions.shape[1:] != spec.action.shape:
            raise bad_input(where, "actions", f"per-step shape {spec.action.shape} like the rest of the dataset",
                            f"{ep.actions.shape[1:]}")


def load_dataset(path: str | Path) -> Dataset:
    """Load a native dataset folder or a folder of seed-format .npz files into memory (from the aside copy
    when a crash interrupted an overwrite between its two renames)."""
    root = existing_folder(path)
    if not root.exists():
        raise bad_input(root, None, "a dataset folder", "no such file or folder")
    if not root.is_dir():
        raise bad_input(root, None, "a dataset folder", "a file")
    meta: dict[str, Any] = {}
    meta_path = root / "meta.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise bad_input(meta_path, None, "valid JSON", f"malformed JSON ({e})") from None
        if not isinstance(meta, dict):
            raise bad_input(meta_path, None, "a JSON object", type(meta).__name__)
        if meta.get("format") != FORMAT_NAME:
            raise bad_input(meta_path, "format", f"'{FORMAT_NAME}'", repr(meta.get("format")))
        if meta.get("format_version") != FORMAT_VERSION:
            raise bad_input(meta_path, "format_version", str(FORMAT_VERSION), repr(meta.get("format_version")))
    files = _episode_files(root)
    if not files:
        raise NoEpisodesError(str(bad_input(root, None, "episode .npz files", "none")))
    episodes = [read_episode(p) for p in files]
    spec = Spec.from_dict(meta["spec"], meta_path) if "spec" in meta else _infer_spec(episodes, float(meta.get("fps", 0.0)))
    _check_consistent(episodes, spec, root)
    return Dataset(episodes=episodes, spec=spec, meta=meta, path=root)


def save_dataset(dataset_or_episodes: Dataset | Iterable[Episode], root: str | Path, spec: Spec | None = None,
                 task: str | None = None, provenance: dict | None = None, overwrite: bool = False) -> Path:
    """Write episodes (or a whole Dataset) as a native dataset folder."""
    if isinstance(dataset_or_episodes, Dataset):
        spec = spec or dataset_or_episodes.spec
        task = task or dataset_or_episodes.meta.get("task")
        episodes: Iterable[Episode] = dataset_or_episodes.episodes
    else:
        episodes = dataset_or_episodes
    if spec is None:
        episodes = list(episodes)
        spec = _infer_spec(episodes, 0.0)
    with DatasetWriter(root, spec, task=task, provenance=provenance, overwrite=overwrite) as w:
        for ep in episodes:
            w.add(ep)
    return Path(root)
