"""Record expert demonstrations of a task into a native dataset (resuming an interrupted recording)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protege.commands._common import check_writable_dir, say
from protege.data.native import load_dataset
from protege.progress import TqdmProgress
from protege.recording import record_expert


@dataclass
class Args:
    task: str
    """Task name (see `protege tasks`), e.g. metaworld/pick-place or pendulum."""
    episodes: int
    """Number of episodes to record."""
    out: Path
    """Dataset folder to create; an interrupted recording there with the same settings is resumed."""
    seed: int = 0
    """Base seed; episode i uses seed seed*10000 + i (evaluation uses a disjoint range)."""
    noise: float = 0.0
    """Gaussian noise on the executed action, as a fraction of the action half-range; the expert's clean
    action is stored as the label, so the data shows recoveries from perturbed states."""
    workers: int = 1
    """Worker processes recording in parallel."""
    only_successes: bool = False
    """Keep only episodes in which the expert succeeded."""
    overwrite: bool = False
    """Replace an existing dataset at --out (the old one is kept until the new recording is complete)."""
    cameras: str | None = None
    """Cameras to record beside the state, e.g. corner2,gripperPOV (Meta-World: corner, corner2, corner3,
    corner4, topview, behindGripper, gripperPOV); metaworld-vision/* record corner2,gripperPOV unless given."""
    image_size: int | None = None
    """Camera frame size in pixels per side (default 84)."""


def run(args: Args) -> int:
    check_writable_dir(args.out, "--out")
    path = record_expert(args.task, args.episodes, args.out, args.seed, args.noise, args.workers,
                         args.only_successes, args.overwrite, progress=TqdmProgress(), report=say,
                         cameras=args.cameras, image_size=args.image_size)
    ds = load_dataset(path)
    say(f"wrote {len(ds)} episodes, {ds.num_steps} steps, {ds.num_success} successful, to {path}")
    return 0
