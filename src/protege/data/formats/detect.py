"""Which format a path holds, decided from what is on disk (never from the name alone, except for outputs).

Formats: "protege" (native folder, or a plain folder of .npz episodes), "lerobot" (meta/info.json),
"robomimic" (an .hdf5 file with a `data` group), "minari" (a folder with data/metadata.json, or the
data folder itself). A folder that is none of these gets one line listing what was looked for.
"""

from __future__ import annotations

from pathlib import Path

from protege.errors import ProtegeError, bad_input

FORMATS = ("protege", "lerobot", "robomimic", "minari")
HDF5_SUFFIXES = (".hdf5", ".h5", ".hdf")


def detect_format(path: str | Path) -> str:
    """The format of an existing dataset at `path`, or a ProtegeError naming what was expected."""
    path = Path(path)
    if not path.exists():
        raise bad_input(path, None, "a dataset folder or file", "no such file or folder")
    if path.is_file():
        if path.suffix.lower() in HDF5_SUFFIXES:
            return _hdf5_kind(path)
        raise bad_input(path, None, "a dataset folder or a robomimic .hdf5 file", f"a '{path.suffix}' file")
    if (path / "meta" / "info.json").exists():
        return "lerobot"
    if (path / "data" / "metadata.json").exists() or (path / "metadata.json").exists():
        return "minari"
    if (path / "meta.json").exists() or (path / "episodes").is_dir() or any(path.glob("*.npz")):
        return "protege"
    if (path / "meta" / "episodes.jsonl").exists() or (path / "meta" / "tasks.jsonl").exists():
        raise bad_input(path / "meta" / "info.json", None, "LeRobot's meta/info.json beside meta/episodes.jsonl",
                        "no such file")
    hdf5 = sorted(p.name for p in path.iterdir() if p.suffix.lower() in HDF5_SUFFIXES)
    listing = sorted(p.name for p in path.iterdir())[:8]
    hint = f" (pass the .hdf5 file itself: {hdf5[0]})" if hdf5 else ""
    raise bad_input(path, None, "a dataset: protege (meta.json + episodes/), LeRobot (meta/info.json), "
                    "Minari (data/metadata.json) or a robomimic .hdf5 file" + hint, f"entries {listing}")


def _hdf5_kind(path: Path) -> str:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except OSError as e:
        raise bad_input(path, None, "a readable HDF5 file", str(e)) from None
    if "data" in keys:
        return "robomimic"
    if any(k.startswith("episode_") for k in keys):
        raise bad_input(path, None, "a robomimic file (a 'data' group); this looks like Minari's main_data.hdf5",
                        "episode_<id> groups (pass the Minari dataset folder instead)")
    raise bad_input(path, "data", "a 'data' group (robomimic layout)", f"top-level keys {sorted(keys)[:10]}")


def output_format(path: str | Path, to: str | None, source_format: str) -> str:
    """The format to write at `path`: `to` if given, robomimic for .hdf5 names, native when converting
    from another format into a folder; writing native into a folder from native needs `--to`."""
    if to is not None:
        if to not in FORMATS:
            raise ProtegeError(f"--to: expected one of {list(FORMATS)}, found {to!r}")
        return to
    if Path(path).suffix.lower() in HDF5_SUFFIXES:
        return "robomimic"
    if source_format != "protege":
        return "protege"
    raise ProtegeError(f"{path}: expected --to {{lerobot,minari,robomimic}} (a folder name does not say which format "
                       f"to write), found no --to")
