"""One dataset, as the viewer needs it: an episode index that is quick to build, single episodes on demand.

For a native dataset the index reads only the small arrays of each episode file (success, who acted,
interventions, labels, rewards, info) and the header of `actions`, never the observations or camera
frames: a 1,000-episode dataset is indexed in about a second, and an episode is read whole only when
its page is opened. Other formats (LeRobot, robomimic, Minari) are read once with `load_any` (cameras
included, as lazy frames) and indexed from memory.

It does not write anything: viewing a dataset never changes it.
"""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from protege.data.episode import SOURCE_EXPERT, SOURCE_HUMAN, SOURCE_POLICY, Episode
from protege.data.formats.detect import detect_format
from protege.data.frames import is_image_array, is_image_spec
from protege.data.native import Dataset, read_episode
from protege.errors import bad_input
from protege.specs import Spec

# One row of the episode list; the page shows these columns and filters on them.
COLUMNS = ("index", "length", "success", "return", "expert_steps", "policy_steps", "human_steps",
           "intervened_steps", "interventions", "labels", "task", "round", "seed")


def _runs(mask: np.ndarray | None) -> int:
    """Number of separate stretches where `mask` is true (interventions, not intervened steps)."""
    if mask is None or len(mask) == 0:
        return 0
    m = np.asarray(mask, bool).astype(np.int8)
    return int(np.sum(np.diff(np.concatenate([[0], m])) == 1))


def index_row(i: int, length: int, success: bool, rewards: np.ndarray | None, source: np.ndarray | None,
              intervened: np.ndarray | None, label_mask: np.ndarray | None, has_labels: bool, info: dict,
              task: str | None) -> list[Any]:
    """The COLUMNS of one episode. Without `source`, every step counts as the expert's (a demonstration)."""
    if source is None:
        counts = {SOURCE_EXPERT: length, SOURCE_POLICY: 0, SOURCE_HUMAN: 0}
    else:
        counts = {k: int(np.sum(source == k)) for k in (SOURCE_EXPERT, SOURCE_POLICY, SOURCE_HUMAN)}
    labels = int(np.sum(label_mask)) if label_mask is not None else (length if has_labels else 0)
    ret = None if rewards is None else round(float(np.sum(rewards)), 4)
    return [i, int(length), bool(success), ret, counts[SOURCE_EXPERT], counts[SOURCE_POLICY], counts[SOURCE_HUMAN],
            int(np.sum(intervened)) if intervened is not None else 0, _runs(intervened), labels,
            info.get("task") or task or None, info.get("round"), info.get("seed")]


def row_of(i: int, ep: Episode, task: str | None) -> list[Any]:
    return index_row(i, len(ep), ep.success, ep.rewards, ep.source, ep.intervened, ep.label_mask,
                     ep.labels is not None, ep.info, task)


def _episode_files(root: Path) -> list[Path]:
    """The native reader's rule: episodes/*.npz, or *.npz in the folder itself (seed format)."""
    folder = root / "episodes" if (root / "episodes").is_dir() else root
    return sorted(p for p in folder.glob("*.npz") if not p.name.startswith("."))


_SMALL = ("success", "source", "intervened", "label_mask", "rewards", "info")


def _native_row(i: int, path: Path, task: str | None) -> list[Any]:
    """An index row from one episode file without reading its observations (see the module docstring).
    Member sizes are checked against the archive first (the native reader's check), so a file that lies
    about an array's size is refused before anything is allocated."""
    from protege.viewer.npzindex import read_small

    fast = read_small(path, _SMALL)
    if fast is not None:
        shape, small, names = fast
        return _row_from_arrays(i, path, tuple(shape), small, "labels" in names, task)
    return _checked_row(i, path, task)


def _checked_row(i: int, path: Path, task: str | None) -> list[Any]:
    """`_native_row` through zipfile and the native reader's member check (any file np.savez did not write)."""
    from protege.data.native import _check_members

    try:
        with zipfile.ZipFile(path) as z:
            members = _check_members(path, z)
            if "actions" not in members:
                raise bad_input(path, "actions", "an 'actions' array", f"keys {sorted(members)}")
            with z.open(members["actions"][0]) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape = read(f)[0]
            small = {}
            for key in _SMALL:
                if key in members:
                    with z.open(members[key][0]) as f:
                        small[key] = np.lib.format.read_array(f, allow_pickle=False)
            has_labels = "labels" in members
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise bad_input(path, None, "a readable .npz archive", f"corrupt or truncated data ({e})") from None
    return _row_from_arrays(i, path, tuple(shape), small, has_labels, task)


def _row_from_arrays(i: int, path: Path, shape: tuple, small: dict[str, np.ndarray], has_labels: bool,
                     task: str | None) -> list[Any]:
    length = int(shape[0]) if len(shape) else 0
    info = {}
    if "info" in small:
        try:
            info = json.loads(str(small["info"]))
        except json.JSONDecodeError:
            raise bad_input(path, "info", "a JSON string", "malformed JSON") from None
    rewards = small.get("rewards")
    if rewards is not None and rewards.shape != (length,):  # seed format: a per-episode total
        rewards = np.atleast_1d(rewards).astype(np.float64)
    per_step = lambda k: small[k] if k in small and small[k].shape == (length,) else None  # noqa: E731
    return index_row(i, length, bool(np.any(small.get("success", False))), rewards, per_step("source"),
                     per_step("intervened"), per_step("label_mask"), has_labels, info if isinstance(info, dict) else {},
                     task)


class DatasetView:
    """A dataset at `path` (any supported format), read lazily and never written."""

    def __init__(self, path: str | Path, fmt: str | None = None):
        self.path = Path(path)
        self.format = fmt or detect_format(self.path)
        self._lock = threading.RLock()
        self._dataset: Dataset | None = None
        self._index: list[list[Any]] | None = None
        self._files: list[Path] = []
        self._meta: dict[str, Any] = {}
        self._spec: Spec | None = None

    # --- whole dataset (statistics, other formats) -------------------------------------------------
    def dataset(self) -> Dataset:
        with self._lock:
            if self._dataset is None:
                from protege.data.formats import load_any

                keys = None
                if self.format == "lerobot":  # its reader leaves cameras out unless named: the viewer shows them
                    from protege.data.formats.lerobot import LeRobotReader

                    reader = LeRobotReader(self.path)
                    keys = [k for k in reader.features if k in reader.vector_keys or k in reader.camera_keys]
                self._dataset = load_any(self.path, obs_keys=keys, fmt=self.format)
            return self._dataset

    # --- the episode index ---------------------------------------------------------------------------
    def _native_meta(self) -> None:
        from protege.data.atomic import existing_folder
        from protege.data.native import NoEpisodesError

        root = existing_folder(self.path)
        meta_path = root / "meta.json"
        if meta_path.exists():
            from protege.viewer.kinds import read_json

            self._meta = read_json(meta_path)
            if not isinstance(self._meta, dict):
                raise bad_input(meta_path, None, "a JSON object", type(self._meta).__name__)
        self._files = _episode_files(root)
        if not self._files:
            raise NoEpisodesError(str(bad_input(root, None, "episode .npz files", "none")))
        if "spec" in self._meta:
            self._spec = Spec.from_dict(self._meta["spec"], meta_path)
        else:  # seed format: the first episode says what the rest hold
            from protege.data.native import _infer_spec

            self._spec = _infer_spec([read_episode(self._files[0])], float(self._meta.get("fps", 0.0)))

    def index(self) -> list[list[Any]]:
        """One row of COLUMNS per episode, in dataset order."""
        with self._lock:
            if self._index is None:
                if self.format == "protege":
                    self._native_meta()
                    task = self._meta.get("task")
                    self._index = [_native_row(i, p, task) for i, p in enumerate(self._files)]
                else:
                    ds = self.dataset()
                    self._meta, self._spec = ds.meta, ds.spec
                    self._index = [row_of(i, e, ds.meta.get("task")) for i, e in enumerate(ds.episodes)]
            return self._index

    @property
    def spec(self) -> Spec:
        self.index()
        assert self._spec is not None
        return self._spec

    @property
    def meta(self) -> dict[str, Any]:
        self.index()
        return self._meta

    def __len__(self) -> int:
        return len(self.index())

    def episode(self, i: int) -> Episode:
        n = len(self)
        if not 0 <= i < n:
            raise bad_input(self.path, "episode", f"an index in [0, {n})", str(i))
        if self.format == "protege" and self._dataset is None:
            return read_episode(self._files[i])
        return self.dataset().episodes[i]

    def summary(self) -> dict[str, Any]:
        """What the dataset page shows above the episode list."""
        rows = self.index()
        spec = self.spec
        cameras = {k: list(s.shape) for k, s in spec.observation.items() if is_image_spec(s)}
        return {"format": self.format, "task": self.meta.get("task") or self.meta.get("tasks"), "fps": spec.fps,
                "episodes": len(rows), "steps": sum(r[1] for r in rows), "successes": sum(bool(r[2]) for r in rows),
                "observation": {k: s.describe() for k, s in spec.observation.items()},
                "action": spec.action.describe(), "cameras": cameras,
                "provenance": self.meta.get("provenance") if isinstance(self.meta.get("provenance"), dict) else None}


def camera_keys(ep: Episode) -> list[str]:
    return [k for k, v in ep.observations.items() if is_image_array(v)]
