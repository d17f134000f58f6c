"""Datasets from the rest of the ecosystem: LeRobot (v3.0 read/write, v2.1 read), robomimic HDF5, Minari.

`load_any(path)` reads any supported dataset into a `Dataset`; `save_as(dataset, path, fmt)` writes one;
`convert(src, dst)` does both through a temporary path renamed at the end, and checks the result by
reading it back. None of lerobot, robomimic or minari is imported: the layouts are written from their
published documentation and source (see each module's docstring).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from protege.data.formats.detect import FORMATS, detect_format, output_format
from protege.data.native import Dataset, load_dataset
from protege.errors import ProtegeError
from protege.progress import Progress

__all__ = ["FORMATS", "detect_format", "load_any", "save_as", "convert", "output_format"]


def load_any(path: str | Path, obs_keys: Sequence[str] | None = None, fmt: str | None = None,
             filter_key: str | None = None, progress: Progress | None = None) -> Dataset:
    """Read a dataset in any supported format into memory.

    obs_keys: observation keys to keep, in this order (source names or native names); default all vector
    keys. fmt: skip detection. filter_key: robomimic only, load just the demos of mask/<filter_key>.
    """
    fmt = fmt or detect_format(path)
    if filter_key is not None and fmt != "robomimic":
        raise ProtegeError(f"{path}: --filter: expected a robomimic file (only robomimic has mask/ filters), found {fmt}")
    if fmt == "protege":
        ds = load_dataset(path)
        if obs_keys is not None:
            ds = _select_native(ds, obs_keys)
        return ds
    if fmt == "lerobot":
        from protege.data.formats.lerobot import load_lerobot
        return load_lerobot(path, obs_keys, progress)
    if fmt == "robomimic":
        from protege.data.formats.robomimic import load_robomimic
        return load_robomimic(path, obs_keys, filter_key, progress)
    if fmt == "minari":
        from protege.data.formats.minari import load_minari
        return load_minari(path, obs_keys, progress)
    raise ProtegeError(f"--from: expected one of {list(FORMATS)}, found {fmt!r}")


def _select_native(ds: Dataset, obs_keys: Sequence[str]) -> Dataset:
    import dataclasses

    from protege.data.formats.common import select_keys
    from protege.specs import Spec

    keys = select_keys(list(ds.spec.observation), obs_keys, ds.path or "dataset")
    episodes = [dataclasses.replace(e, observations={k: e.observations[k] for k in keys}) for e in ds.episodes]
    spec = Spec({k: ds.spec.observation[k] for k in keys}, ds.spec.action, ds.spec.fps)
    meta = dict(ds.meta, spec=spec.to_dict())
    return Dataset(episodes=episodes, spec=spec, meta=meta, path=ds.path)


def save_as(ds: Dataset, path: str | Path, fmt: str, progress: Progress | None = None, **options: Any) -> Path:
    """Write `ds` at `path` (which must not exist) in format `fmt`. options go to the format's writer
    (lerobot: robot_type, data_file_mb, crf; minari: data_format "hdf5"/"arrow"/"parquet", dataset_id)."""
    if fmt == "protege":
        return _save_native(ds, path, progress)
    if fmt == "lerobot":
        from protege.data.formats.lerobot_write import write_lerobot
        return write_lerobot(ds, path, progress=progress, **options)
    if fmt == "robomimic":
        from protege.data.formats.robomimic import write_robomimic
        return write_robomimic(ds, path, progress=progress)
    if fmt == "minari":
        from protege.data.formats.minari import write_minari
        return write_minari(ds, path, progress=progress, **options)
    raise ProtegeError(f"--to: expected one of {list(FORMATS)}, found {fmt!r}")


def convert(src: str | Path, dst: str | Path, from_fmt: str | None = None, to_fmt: str | None = None,
            obs_keys: Sequence[str] | None = None, filter_key: str | None = None, overwrite: bool = False,
            progress: Progress | None = None, **options: Any):
    """Convert `src` to `dst`; returns a `ConversionReport`. Nothing appears at `dst` unless the written
    dataset reads back with the same episodes, arrays and metadata."""
    from protege.data.formats.check import convert_checked

    return convert_checked(src, dst, from_fmt, to_fmt, obs_keys, filter_key, overwrite, progress, **options)


def _save_native(ds: Dataset, path: str | Path, progress: Progress | None) -> Path:
    """Native writer, keeping the metadata other formats carry (splits, env_args, ...) in meta.json."""
    from protege.data.native import DatasetWriter
    from protege.progress import bar

    standard = {"format", "format_version", "task", "fps", "spec", "num_episodes", "num_steps", "num_success",
                "provenance"}
    b = bar(progress, "write protege", len(ds), "ep")
    with DatasetWriter(path, ds.spec, task=ds.meta.get("task"), provenance=ds.meta.get("provenance")) as w:
        w.meta.update({k: v for k, v in ds.meta.items() if k not in standard})
        for ep in ds.episodes:
            w.add(ep)
            b.update(1)
    b.close()
    return Path(path)
