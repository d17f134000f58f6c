"""Pieces every format module shares: observation-key selection, atomic output folders, dataset assembly.

Readers turn a foreign layout into a `Dataset` (a list of validated `Episode`s + spec + meta); writers
turn a `Dataset` into a foreign layout. Nothing here knows any one format.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from protege import __version__
from protege.data.episode import Episode
from protege.data.native import FORMAT_NAME, FORMAT_VERSION, Dataset
from protege.errors import ProtegeError, bad_input
from protege.specs import ArraySpec, Spec

# Per-episode protege fields that other formats have no slot for; writers store them under these names
# (prefixed per format) so that a round trip native -> X -> native is lossless.
EXTRA_FIELDS = ("labels", "label_mask", "source", "intervened")


def is_image_spec(spec: ArraySpec) -> bool:
    """Native image observations are (H, W, 3) uint8."""
    return len(spec.shape) == 3 and spec.shape[-1] == 3 and spec.dtype == "uint8"


def select_keys(available: Sequence[str], obs_keys: Sequence[str] | None, source: str | Path,
                aliases: dict[str, str] | None = None) -> list[str]:
    """Pick and order source observation keys.

    available: source key names in their stored order. obs_keys: the user's choice (source names, or the
    native names in `aliases` values). aliases: source name -> native name. Returns source names.
    """
    if obs_keys is None:
        return list(available)
    back = {native: src for src, native in (aliases or {}).items()}
    chosen = []
    for key in obs_keys:
        src = key if key in available else back.get(key)
        if src is None or src not in available:
            raise bad_input(source, "--obs-keys", f"observation keys among {list(available)}", repr(key))
        chosen.append(src)
    if not chosen:
        raise bad_input(source, "--obs-keys", "at least one observation key", "none")
    return chosen


def infer_spec(episodes: list[Episode], fps: float, action_low=None, action_high=None) -> Spec:
    first = episodes[0]
    obs = {k: ArraySpec(v.shape[1:], "float32" if v.dtype.kind == "f" else str(v.dtype))
           for k, v in first.observations.items()}
    return Spec(observation=obs, action=ArraySpec(first.actions.shape[1:], low=action_low, high=action_high), fps=fps)


def make_dataset(episodes: list[Episode], source: str | Path, fmt: str, version: str | None, fps: float,
                 task: str | None, key_map: dict[str, str], spec: Spec | None = None,
                 extra_meta: dict | None = None, provenance: dict | None = None) -> Dataset:
    """Assemble a Dataset read from a foreign format, with provenance saying where it came from.

    key_map: native observation key -> source key (kept in meta so the mapping is explicit).
    """
    if not episodes:
        raise bad_input(source, None, "at least one episode", "none")
    spec = spec or infer_spec(episodes, fps)
    for ep in episodes:
        for key, arr in ep.observations.items():
            if key in spec.observation and arr.shape[1:] != spec.observation[key].shape:
                raise bad_input(ep.origin or source, f"observations/{key}",
                                f"per-step shape {spec.observation[key].shape} like the rest of the dataset",
                                f"{arr.shape[1:]}")
        if ep.actions.shape[1:] != spec.action.shape:
            raise bad_input(ep.origin or source, "actions", f"per-step shape {spec.action.shape}", f"{ep.actions.shape[1:]}")
    prov = dict(provenance or {})
    prov["converted_from"] = {"format": fmt, "version": version, "path": str(source), "obs_keys": key_map,
                              "converted": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                              "protege_version": __version__}
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "task": task, "fps": fps,
            "spec": spec.to_dict(), "num_episodes": len(episodes), "num_steps": sum(len(e) for e in episodes),
            "num_success": sum(e.success for e in episodes), "provenance": prov, **(extra_meta or {})}
    return Dataset(episodes=episodes, spec=spec, meta=meta, path=Path(source))


def extras_of(ep: Episode) -> dict[str, np.ndarray]:
    """The per-step protege-only arrays of an episode that are present (labels, masks, who acted)."""
    return {name: getattr(ep, name) for name in EXTRA_FIELDS if getattr(ep, name) is not None}


def native_meta(ds: Dataset) -> dict[str, Any]:
    """What a writer stores so a reader can restore the native metadata (task, fps, spec, provenance, splits)."""
    keep = {k: v for k, v in ds.meta.items() if k not in ("num_episodes", "num_steps", "num_success")}
    keep["spec"] = ds.spec.to_dict()
    keep["fps"] = ds.spec.fps
    return keep


def load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise bad_input(path, None, "an existing JSON file", "no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise bad_input(path, None, "valid JSON", f"malformed JSON ({e})") from None


def require(mapping: dict, key: str, source: str | Path, expected: str) -> Any:
    if key not in mapping:
        raise bad_input(source, key, expected, f"it missing (keys {sorted(mapping)[:12]})")
    return mapping[key]


@contextlib.contextmanager
def atomic_output(dst: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `dst`; rename it to `dst` only if the block finishes.

    A failed conversion leaves nothing at `dst` (and an existing `dst` untouched unless it succeeded and
    `overwrite` was given).
    """
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise ProtegeError(f"{dst}: expected a new path, found an existing {'folder' if dst.is_dir() else 'file'} "
                           f"(pass --overwrite to replace it)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if dst.exists():
            _remove(dst)
        os.replace(tmp, dst)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
