"""Evaluate a checkpoint (or the task's expert): success rate with a 95% Wilson interval; on a task set
(metaworld/MT10, a comma list) a per-task table plus the mean."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protege.checkpoint import CheckpointActorFactory, ensemble_members, load_actor, read_checkpoint_config
from protege.commands._common import check_writable_dir, check_writable_file, say, write_json_file
from protege.envs import get_task
from protege.evaluation.rollout import ActorFactory
from protege.experts.files import SCRIPTED, expert_factory
from protege.distributed import make_executor
from protege.errors import ProtegeError
from protege.envs.metaworld_sets import is_task_set, resolve_tasks
from protege.evaluation.evaluate import check_finite_weights, evaluate
from protege.evaluation.multitask import evaluate_tasks
from protege.progress import TqdmProgress


@dataclass
class Args:
    checkpoint: Path | None = None
    """Checkpoint folder to evaluate."""
    expert: str | None = None
    """Evaluate an expert instead of a checkpoint: bare --expert (or "scripted") the task's own, or a policy
    file: a checkpoint folder or an MLP policy (<name>.json + <name>.safetensors, e.g.
    ../shared/adroit/experts/door.json)."""
    task: str | None = None
    """Task name, or a set (metaworld/MT10, metaworld/MT50) or comma list to run every task on its own
    held-out seeds; defaults to the task(s) the checkpoint's dataset was recorded on. A conditioned
    checkpoint is told each task by name."""
    instruction: str | None = None
    """Run a conditioned checkpoint on one task with this instruction (e.g. a paraphrase) instead of the
    task's name; an instruction the checkpoint never saw is accepted and reported as unseen."""
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
    videos: Path | None = None
    """Write every episode's video into this folder, one mp4 each named by index, seed and outcome
    (007-seed1000007-failure.mp4), filmed by the worker (process or Ray actor) that ran it; with --json the
    per-episode results name them, and `protege view` lists them failures first."""
    json: Path | None = None
    """Write the summary and per-episode results here as JSON."""
    allow_seed_overlap: bool = False
    """Allow evaluating on initial states the checkpoint was trained on."""


def make_args(argv: list[str]) -> type:
    """`Args`; a bare `--expert` (nothing after it, or another option) is read as `--expert scripted`, the
    task's own expert. The list is edited in place: the CLI parses it next."""
    i = 0
    while i < len(argv):
        if argv[i] == "--expert" and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            argv.insert(i + 1, SCRIPTED)
        i += 1
    return Args


def run(args: Args) -> int:
    if (args.checkpoint is None) == (args.expert is None):
        raise ProtegeError("eval: expected exactly one of --checkpoint CKPT or --expert, found "
                           + ("both" if args.expert is not None else "neither"))
    if args.json is not None:  # an unwritable output fails now, not after the episodes have run
        check_writable_file(args.json, "--json")
    if args.video is not None:
        check_writable_file(args.video, "--video")
    if args.videos is not None:
        check_writable_dir(args.videos, "--videos")
    members = ensemble_members(args.checkpoint) if args.checkpoint is not None else None
    if members is not None and args.instruction is not None:
        raise ProtegeError(f"--instruction: expected one checkpoint, found an ensemble of {len(members)} members at "
                           f"{args.checkpoint} (an ensemble is told its task by --task)")
    # an ensemble's members share their dataset and spec: the first one speaks for them
    cfg = read_checkpoint_config(members[0] if members else args.checkpoint) if args.checkpoint is not None else {}
    task_name = args.task or cfg.get("dataset", {}).get("task")
    if not task_name:
        raise ProtegeError(f"{args.checkpoint}: expected --task (the checkpoint does not name its task), found none"
                           if args.checkpoint is not None else "eval --expert: expected --task, found none")
    names = resolve_tasks(task_name) if is_task_set(task_name) else [task_name]
    if args.instruction is not None:
        if len(names) > 1:
            raise ProtegeError(f"--instruction: expected one --task to run it on, found {len(names)} ({task_name})")
        if args.expert is not None or "conditioning" not in cfg:
            raise ProtegeError("--instruction: expected a conditioned checkpoint (trained with --condition), found "
                               + ("--expert" if args.expert is not None else
                                  f"checkpoint {args.checkpoint} without conditioning"))
    if len(names) > 1:
        return _run_tasks(args, cfg, names, task_name)
    task = get_task(names[0])
    training_seeds: list[int] = []
    if args.checkpoint is not None:
        make_actor, training_seeds, who = _checkpoint_actor(args, cfg, task.name)
    else:
        make_actor = expert_factory(task.name, args.expert)
        who = f"expert of {task.name}" if args.expert == SCRIPTED else f"expert {args.expert}"
    executor = make_executor(args.workers, args.ray) if args.ray else None
    result = evaluate(task, make_actor, args.episodes, args.seed, args.workers, training_seeds=training_seeds,
                      executor=executor,
                      allow_seed_overlap=args.allow_seed_overlap, video=args.video,
                      video_episodes=args.video_episodes, progress=TqdmProgress(), who=who, videos=args.videos)
    s = result.summary
    say(f"{who} on {task.name}: success {s.successes}/{s.episodes} = {s.format()} (95% Wilson), "
        f"mean return {s.mean_return:.2f}, mean length {s.mean_length:.1f}")
    if result.video:
        say(f"video: {result.video}")
    if result.videos:
        failed = sum(not r.success for r in result.results)
        say(f"videos: {len(result.videos)} in {args.videos} ({failed} failures)")
    if args.json is not None:
        write_json_file(args.json, {"who": who, "task": task.name, "instruction": args.instruction,
                                    **result.to_dict()})
    return 0


def _checkpoint_actor(args: Args, cfg: dict, task_name: str) -> tuple[ActorFactory, list[int], str]:
    """(factory, training seeds of this task, who) for the checkpoint (or ensemble of checkpoints) on one
    task; a misfit spec, non-finite weights or a task the checkpoint was not trained on is refused before
    any work."""
    task = get_task(task_name)
    instruction = args.instruction
    # with an instruction, the instruction alone says what to do (the task only picks the scene)
    cond_task = None if instruction is not None else task.name
    members = ensemble_members(args.checkpoint) or [args.checkpoint]
    for path in members:
        actor = load_actor(path, task.spec, f"task {task.name}", task=cond_task, instruction=instruction)
        check_finite_weights(getattr(actor, "policy", actor), f"checkpoint {path}")
    if instruction is not None and actor.condition is not None:
        say(f"checkpoint {args.checkpoint}: {actor.condition.describe()}")
    data = cfg.get("dataset", {})
    trained_on = set((cfg.get("conditioning") or {}).get("tasks") or []) | {data.get("task")}
    seeds = data.get("episode_seeds", []) if task.name in trained_on else []
    if len(members) > 1:  # the members' mean action (`protege.algos.ensemble.Learner`)
        from protege.algos.ensemble import LearnerFactory

        return LearnerFactory(members, cond_task), seeds, f"ensemble {args.checkpoint} ({len(members)} members)"
    return CheckpointActorFactory(args.checkpoint, cond_task, instruction), seeds, f"checkpoint {args.checkpoint}"


def _run_tasks(args: Args, cfg: dict, names: list[str], set_name: str) -> int:
    for flag, value in (("--video", args.video), ("--videos", args.videos)):
        if value is not None:
            raise ProtegeError(f"{flag}: expected one --task, found the {len(names)} tasks of {set_name}")
    factories: dict[str, object] = {}
    seeds: dict[str, list[int]] = {}
    for name in names:  # every task checked (spec, known to the checkpoint) before any episode runs
        if args.checkpoint is not None:
            factories[name], seeds[name], who = _checkpoint_actor(args, cfg, name)
        else:
            factories[name], seeds[name] = expert_factory(get_task(name).name, args.expert), []
            who = "expert" if args.expert == SCRIPTED else f"expert {args.expert}"
    result = evaluate_tasks(names, factories.__getitem__, args.episodes, args.seed, args.workers,
                            training_seeds=seeds.__getitem__, allow_seed_overlap=args.allow_seed_overlap,
                            progress=TqdmProgress(), who=who)
    say(f"{who} on {set_name} ({len(names)} tasks, {args.episodes} episodes each, 95% Wilson intervals):")
    say(result.table())
    if args.json is not None:
        write_json_file(args.json, {"who": who, "task": set_name, "episodes_per_task": args.episodes,
                                    **result.to_dict()})
    return 0
