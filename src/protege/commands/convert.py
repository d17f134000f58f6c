"""Convert a dataset between protege, LeRobot v3.0, robomimic HDF5 and Minari (checked, all-or-nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from protege.commands._common import check_writable_dir, say
from protege.data.formats import convert
from protege.progress import TqdmProgress


@dataclass
class Args:
    src: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="SRC")]
    """Source dataset: a protege, LeRobot (v3.0 or v2.1) or Minari folder, or a robomimic .hdf5 file."""
    dst: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DST")]
    """Destination: a folder, or a .hdf5 file for robomimic. Written to a temporary path and renamed
    only after it has been read back and checked."""
    from_: Annotated[str | None, tyro.conf.arg(name="from")] = None
    """Source format (protege, lerobot, robomimic, minari); detected from the path when not given."""
    to: str | None = None
    """Destination format; a .hdf5 name means robomimic, a folder from a foreign format means protege."""
    obs_keys: list[str] | None = None
    """Observation keys to keep, in this order (source names like observation.state, or native names)."""
    filter: str | None = None
    """robomimic source: convert only the demos listed in mask/<filter> (e.g. train)."""
    overwrite: bool = False
    """Replace an existing destination (only once the new one has been written and checked)."""
    robot_type: str | None = None
    """LeRobot destination: robot_type in meta/info.json (e.g. so100)."""
    data_file_mb: float = 100.0
    """LeRobot destination: start a new data/video file after this many MB of frames."""
    crf: int = 10
    """LeRobot destination: H.264 quality for camera videos (0 best, 23 ffmpeg's default)."""
    minari_format: Literal["hdf5", "arrow", "parquet"] = "hdf5"
    """Minari destination: storage format."""


def run(args: Args) -> int:
    # the result is written beside DST and renamed: that folder must be writable before anything is read
    check_writable_dir(args.dst.parent, "DST")
    options: dict = {}
    to = args.to
    if to == "lerobot":
        options = {"robot_type": args.robot_type, "data_file_mb": args.data_file_mb, "crf": args.crf}
    elif to == "minari":
        options = {"data_format": args.minari_format}
    report = convert(args.src, args.dst, args.from_, to, args.obs_keys, args.filter, args.overwrite,
                     progress=TqdmProgress(), **options)
    say(report.summary())
    return 0
