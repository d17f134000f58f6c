"""Record expert demonstrations of a task into a native dataset (resuming an interrupted recording)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protege.commands._common import check_writable_dir, say
from protege.data.native import load_dataset
from protege.progress import TqdmProgress
from protege.envs.metaworld_sets import is_task_set
from protege.errors import ProtegeError
from protege.recording import record_expert, record_tasks


@dataclass
class Args:
    task: str
    """Task name (see `protege tasks`), e.g. metaworld/pick-place or pendulum; or several tasks into one
    dataset: a set (metaworld/MT10, metaworld/MT50) or a comma list, with --episodes-per-task."""
    out: Path
    """Dataset folder to create; an interrupted recording there with the same settings is resumed."""
    episodes: int | None = None
    """Number of episodes to record (one task)."""
    episodes_per_task: int | None = None
    """Episodes per task when --task names several (each tagged with its task name and instruction)."""
    seed: int = 0
    """Base seed; episode i uses seed seed*10000 + i (evaluation uses a disjoint range)."""
    noise: float = 0.0
    """Gaussian noise on the executed action, as a fraction of the action half-range; the expert's clean
    action is stored as the label, so the data shows recoveries from perturbed states."""
    labels: bool = True
    """With --noise, store the expert's clean action as each step's label (BC then imitates the clean
    expert from perturbed states); --no-labels keeps only the executed, noisy action, so the demonstrator
    itself is imperfect, as a person is."""
    expert: str | None = None
    """Record this policy instead of the task's own expert: a protege checkpoint folder, or an MLP policy
    file (<name>.json + <name>.safetensors, e.g. ../shared/adroit/experts/door.json); "scripted" = the task's own."""
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
    many = is_task_set(args.task)
    if many and args.episodes_per_task is None:
        raise ProtegeError(f"--task {args.task}: expected --episodes-per-task N for several tasks, found "
                           + ("--episodes" if args.episodes is not None else "neither"))
    if not many and args.episodes is None:
        raise ProtegeError(f"--task {args.task}: expected --episodes N, found "
                           + ("--episodes-per-task (for several tasks)" if args.episodes_per_task else "neither"))
    check_writable_dir(args.out, "--out")
    if many:
        if args.expert is not None or not args.labels:
            raise ProtegeError(f"--{'expert' if args.expert is not None else 'no-labels'}: expected one --task, "
                               f"found several ({args.task})")
        if args.cameras or args.image_size:
            raise ProtegeError("--cameras: expected none with several tasks (multi-task recording is state-based), "
                               f"found {args.cameras or args.image_size}")
        path = record_tasks(args.task, args.episodes_per_task, args.out, args.seed, args.noise, args.workers,
                            args.only_successes, args.overwrite, progress=TqdmProgress(), report=say)
        ds = load_dataset(path)
        say(f"wrote {len(ds)} episodes of {len(ds.meta['tasks'])} tasks, {ds.num_steps} steps, "
            f"{ds.num_success} successful, to {path}")
        return 0
    path = record_expert(args.task, args.episodes, args.out, args.seed, args.noise, args.workers,
                         args.only_successes, args.overwrite, progress=TqdmProgress(), report=say,
                         cameras=args.cameras, image_size=args.image_size, expert=args.expert,
                         keep_labels=args.labels)
    ds = load_dataset(path)
    say(f"wrote {len(ds)} episodes, {ds.num_steps} steps, {ds.num_success} successful, to {path}")
    return 0
