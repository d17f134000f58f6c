"""DAPG: behavioural cloning of a Gaussian policy on demonstrations, then RL that keeps the demonstrations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from protege.algos.bc import TrainConfig
from protege.algos.rl import RLConfig, run_dapg
from protege.commands._common import check_writable_dir, say
from protege.commands.rl import _report
from protege.data.formats import load_any
from protege.envs import get_task
from protege.policies.gaussian import GaussianConfig
from protege.progress import TqdmProgress


@dataclass
class Args:
    task: str
    """Registered task to fine-tune on (see `protege tasks`); it must give rewards."""
    demos: Path
    """Demonstrations, in any format `train` reads: native folder (or a folder of seed-format .npz
    files), LeRobot or Minari folder, robomimic .hdf5 file."""
    out: Path
    """Run folder: bc/ (the BC checkpoint), per-iteration checkpoints, policy/ (the latest, for
    `protege eval`), curve.csv/png. An existing run folder is resumed from its last complete iteration."""
    rl: Annotated[RLConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=RLConfig)
    gaussian: GaussianConfig = field(default_factory=GaussianConfig)
    bc_steps: int = 2000
    """Gradient steps of the BC pre-training (maximum likelihood)."""
    bc_lr: float = 1e-3
    """Peak learning rate of the BC pre-training."""
    bc_std: str = "likelihood"
    """Std the BC policy hands to RL: "likelihood" (fitted with the mean) or "demos" (the demonstrations'
    per-dimension action std, as DAPG's authors set it; wider exploration)."""


def run(args: Args) -> int:
    check_writable_dir(args.out, "--out")  # a run folder that cannot be written fails now, not after BC
    task = get_task(args.task)
    demos = load_any(args.demos)  # native, seed .npz, LeRobot, robomimic or Minari, read in place
    say(f"DAPG ({args.rl.algo}) on {task.name} with {len(demos)} demonstrations ({demos.num_steps} steps): "
        f"BC {args.bc_steps} steps, then RL for {args.rl.env_steps:,} env steps; run folder {args.out}")
    bc = TrainConfig(steps=args.bc_steps, lr=args.bc_lr, seed=args.rl.seed)
    result, bc_dir = run_dapg(task, demos, args.rl, args.out, args.gaussian, bc, progress=TqdmProgress(),
                              bc_std=args.bc_std)
    say(f"BC checkpoint: {bc_dir}")
    _report(result, args.out)
    return 0
