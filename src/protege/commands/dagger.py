"""Interactive correction (DAgger family): run a gate for some rounds, counting every expert label."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from protege.algos.bc import TrainConfig
from protege.algos.dagger import DaggerConfig, run_dagger
from protege.algos.dagger.run_folder import records_table
from protege.commands._common import check_writable_dir, say, with_policy_config
from protege.progress import TqdmProgress


@dataclass
class Args:
    out: Path
    """Run folder: aggregated dataset, a checkpoint per round, rounds.json (an existing run resumes)."""
    data: Path | None = None
    """Initial demonstrations, in any format `train` reads (native or seed-format .npz folder, LeRobot or
    Minari folder, robomimic .hdf5 file); by default --demos are recorded from the expert."""
    no_resume: bool = False
    """Refuse to continue an existing run at --out instead of resuming it."""
    cameras: str | None = None
    """Cameras the task's env renders beside its state, e.g. corner2,gripperPOV (metaworld-vision/* render
    corner2,gripperPOV unless given); the learner and the aggregated data see what the env observes."""
    image_size: int | None = None
    """Camera frame size in pixels per side (default 84)."""
    dagger: Annotated[DaggerConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=DaggerConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3000))
    """BC training each round (--train.steps, --train.lr ...); its seed is offset by --seed and the round."""


def make_args(argv: list[str]) -> type:
    """`Args` plus the chosen policy's config (as `train` does)."""
    return with_policy_config(Args, argv)


def run(args: Any) -> int:
    cfg: DaggerConfig = args.dagger
    if args.cameras is not None or args.image_size is not None:
        from protege.recording import task_with_cameras

        # a task name with cameras ('metaworld/reach[corner2@84]') resolves everywhere, workers included
        cfg = dataclasses.replace(cfg, task=task_with_cameras(cfg.task, args.cameras, args.image_size).name)
    check_writable_dir(args.out, "--out")  # a run folder that cannot be written fails now, not at the first save
    policy_config = getattr(args, cfg.policy, None)
    say(f"{cfg.gate} on {cfg.task}: {cfg.rounds} rounds x {cfg.episodes_per_round} episodes -> {args.out}"
        + (f" (starting from {cfg.init})" if cfg.init is not None else ""))
    result = run_dagger(cfg, args.out, data=args.data, train=args.train, policy_config=policy_config,
                        resume=not args.no_resume, progress=TqdmProgress())
    say(records_table(result.records))
    say(f"\nrecords in {result.path / 'rounds.json'}; last learner in {result.learner.paths[0]}"
        + (f" (+{len(result.learner.paths) - 1} ensemble members)" if len(result.learner.paths) > 1 else ""))
    return 0
