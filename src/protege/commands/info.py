"""Describe a dataset in any supported format: episodes, steps, fps, spec, statistics, successes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from protege.commands._common import say, write_json_file
from protege.data.formats.summary import dataset_info, format_info
from protege.progress import TqdmProgress


@dataclass
class Args:
    path: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DATASET")]
    """Dataset: a protege or LeRobot or Minari folder, or a robomimic .hdf5 file."""
    from_: Annotated[str | None, tyro.conf.arg(name="from")] = None
    """Format (protege, lerobot, robomimic, minari); detected from the path when not given."""
    obs_keys: list[str] | None = None
    """Observation keys to load, in order (LeRobot camera keys are decoded only when named here)."""
    filter: str | None = None
    """robomimic: describe only the demos listed in mask/<filter> (e.g. train, valid)."""
    json: Path | None = None
    """Also write everything as JSON here."""


def run(args: Args) -> int:
    info = dataset_info(args.path, args.obs_keys, args.from_, args.filter, progress=TqdmProgress())
    say(format_info(info))
    if args.json is not None:
        write_json_file(args.json, info)
    return 0
