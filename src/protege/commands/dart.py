"""DART: record the expert in rounds with noise at the learner's own error, training after each round."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from protege.algos.bc import TrainConfig
from protege.algos.dart import RESULT_FILE, DartConfig, run_dart
from protege.commands._common import check_writable_dir, say, with_policy_config
from protege.errors import ProtegeError
from protege.policies import POLICIES, EncoderConfig
from protege.progress import TqdmProgress


@dataclass
class Args:
    task: str
    """Task with a scripted expert (see `protege tasks`), e.g. metaworld/pick-place."""
    out: Path
    """Run folder: round_<k>/data and round_<k>/checkpoint per round, dart.json (an interrupted run resumes)."""
    dart: Annotated[DartConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=DartConfig)
    policy: str = "mlp"
    """Policy head trained after each round; its options appear under --<policy>.*."""
    encoder: str = "small"
    """Image encoder for camera keys (small, resnet18, none); unused without cameras."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """BC training after each round (--train.steps, --train.seed ...)."""


def make_args(argv: list[str]) -> type:
    """`Args` plus the chosen policy's config (as `train` does)."""
    return with_policy_config(Args, argv)


def run(args: Any) -> int:
    if args.policy not in POLICIES:
        raise ProtegeError(f"--policy: expected one of {sorted(POLICIES)}, found {args.policy!r}")
    check_writable_dir(args.out, "--out")
    cfg: DartConfig = args.dart
    say(f"DART on {args.task}: {cfg.episodes} expert episodes in {cfg.rounds} rounds, {args.policy} trained "
        f"{args.train.steps or 'auto'} steps after each; run folder {args.out}")
    result = run_dart(args.task, args.out, cfg, args.policy, getattr(args, args.policy, None), args.train,
                      EncoderConfig(name=args.encoder), progress=TqdmProgress(), report=say)
    say(f"{result.labelled_steps} expert labels in {sum(r.episodes for r in result.rounds)} episodes; "
        f"noise per round {', '.join(f'{r.noise:.3f}' for r in result.rounds)}; rounds in {args.out / RESULT_FILE}; "
        f"policy in {result.checkpoint}")
    return 0
