"""Evaluate a checkpoint (or the task's expert): success rate with a 95% Wilson interval."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protege.checkpoint import CheckpointActorFactory, load_actor, read_checkpoint_config
from protege.commands._common import check_writable_file, say, write_json_file
from protege.envs import ExpertFactory, get_task
from protege.distributed import make_executor
from protege.errors import ProtegeError
from protege.evaluation.evaluate import check_finite_weights, evaluate
from protege.progress import TqdmProgress


@dataclass
class Args:
    checkpoint: Path | None = None
    """Checkpoint folder to evaluate."""
    expert: bool = False
    """Evaluate the task's scripted expert instead of a checkpoint."""
    task: str | None = None
    """Task name; defaults to the task the checkpoint's dataset was recorded on."""
    episodes: int = 50
    """Evaluation episodes."""
    seed: int = 0
    """Base seed; evaluation seeds never overlap recording seeds unless --allow-seed-overlap."""
    workers: int = 1
    """Environments run in parallel worker processes (with --ray: Ray actors)."""
    ray: str | None = None
    """Run the episodes on Ray: "auto" (a local Ray cluster of --workers CPUs) or the address of a running
    cluster (--workers actors); needs `pip install -e ".[ray]"`. The same per-episode results as in one process."""
    video: Path | None = None
    """Write an mp4 of the first --video-episodes episodes here."""
    video_episodes: int = 3
    """Episodes in the video."""
    json: Path | None = None
    """Write the summary and per-episode results here as JSON."""
    allow_seed_overlap: bool = False
    """Allow evaluating on initial states the checkpoint was trained on."""


def run(args: Args) -> int:
    if (args.checkpoint is None) == (not args.expert):
        raise ProtegeError("eval: expected exactly one of --checkpoint CKPT or --expert, found "
                           + ("both" if args.expert else "neither"))
    if args.json is not None:  # an unwritable output fails now, not after the episodes have run
        check_writable_file(args.json, "--json")
    if args.video is not None:
        check_writable_file(args.video, "--video")
    training_seeds: list[int] = []
    if args.checkpoint is not None:
        cfg = read_checkpoint_config(args.checkpoint)
        task_name = args.task or cfg.get("dataset", {}).get("task")
        if not task_name:
            raise ProtegeError(f"{args.checkpoint}: expected --task (the checkpoint does not name its task), found none")
        task = get_task(task_name)
        actor = load_actor(args.checkpoint, task.spec, f"task {task.name}")  # refuse a misfit before any work
        check_finite_weights(getattr(actor, "policy", actor), f"checkpoint {args.checkpoint}")
        make_actor = CheckpointActorFactory(args.checkpoint)
        training_seeds = cfg.get("dataset", {}).get("episode_seeds", []) if task_name == cfg.get("dataset", {}).get("task") else []
        who = f"checkpoint {args.checkpoint}"
    else:
        if not args.task:
            raise ProtegeError("eval --expert: expected --task, found none")
        task = get_task(args.task)
        make_actor = ExpertFactory(task.name)
        who = f"expert of {task.name}"
    executor = make_executor(args.workers, args.ray) if args.ray else None
    result = evaluate(task, make_actor, args.episodes, args.seed, args.workers, training_seeds=training_seeds,
                      executor=executor,
                      allow_seed_overlap=args.allow_seed_overlap, video=args.video,
                      video_episodes=args.video_episodes, progress=TqdmProgress(), who=who)
    s = result.summary
    say(f"{who} on {task.name}: success {s.successes}/{s.episodes} = {s.format()} (95% Wilson), "
        f"mean return {s.mean_return:.2f}, mean length {s.mean_length:.1f}")
    if result.video:
        say(f"video: {result.video}")
    if args.json is not None:
        write_json_file(args.json, {"who": who, "task": task.name, **result.to_dict()})
    return 0
