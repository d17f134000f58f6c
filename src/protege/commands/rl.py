"""Reinforcement learning alone: a Gaussian policy trained from scratch by NPG (or PPO) on a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from protege.algos.rl import RLConfig, rl_from_scratch
from protege.commands._common import check_writable_dir, say
from protege.envs import get_task
from protege.policies.gaussian import GaussianConfig
from protege.progress import TqdmProgress


@dataclass
class Args:
    task: str
    """Registered task to learn (see `protege tasks`); it must give rewards."""
    out: Path
    """Run folder: per-iteration checkpoints, policy/ (the latest, for `protege eval`), curve.csv/png.
    An existing run folder is resumed from its last complete iteration."""
    rl: Annotated[RLConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=RLConfig)
    gaussian: GaussianConfig = field(default_factory=GaussianConfig)


def run(args: Args) -> int:
    check_writable_dir(args.out, "--out")  # a run folder that cannot be written fails now, not at the first save
    task = get_task(args.task)
    say(f"RL ({args.rl.algo}) on {task.name}: budget {args.rl.env_steps:,} env steps, "
        f"{args.rl.episodes_per_iter} episodes per iteration, run folder {args.out}")
    result = rl_from_scratch(task, args.rl, args.out, args.gaussian, progress=TqdmProgress())
    _report(result, args.out)
    return 0


def _report(result, out: Path) -> None:
    if result.resumed_from is not None:
        say(f"resumed from iteration {result.resumed_from}")
    last = result.curve[-1] if result.curve else None
    if last is None:
        say("nothing to do: the run already reached its budget")
        return
    say(f"{result.iterations} iterations, {result.env_steps:,} env steps, {result.wall_seconds:.0f} s "
        f"({result.env_steps / max(result.wall_seconds, 1e-9):,.0f} steps/s); last iteration: sampled success "
        f"{last['success_rate']:.0%}, mean return {last['mean_return']:.1f}")
    say(f"policy: {out / 'policy'} (evaluate with `protege eval --checkpoint {out / 'policy'}`); "
        f"curve: {out / 'curve.csv'}, {out / 'curve.png'}")
