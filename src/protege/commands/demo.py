"""The weekend project end to end: record pick-place demos, train BC, evaluate expert and BC."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import CheckpointActorFactory
from protege.commands._common import say, write_json_file
from protege.data.native import load_dataset
from protege.envs import ExpertFactory, get_task
from protege.evaluation.evaluate import evaluate
from protege.progress import TqdmProgress
from protege.recording import record_expert


@dataclass
class Args:
    task: str = "metaworld/pick-place"
    """Task to learn."""
    demos: int = 50
    """Demonstrations to record."""
    eval_episodes: int = 50
    """Evaluation episodes for the expert and for BC (seeds disjoint from the demonstrations')."""
    steps: int = 5_000
    """BC gradient steps."""
    seed: int = 0
    """Seed for recording, training and evaluation."""
    workers: int = 2
    """Worker processes for recording and evaluation."""
    out: Path = Path("runs/demo")
    """Folder for the dataset and checkpoint (replaced)."""
    report: Path = Path("docs/demo.md")
    """Markdown table written here (and JSON beside it)."""


def run(args: Args) -> int:
    progress = TqdmProgress()
    task = get_task(args.task)
    t0 = time.perf_counter()
    data_dir, ckpt_dir = args.out / "data", args.out / "checkpoint"
    say(f"1/3 recording {args.demos} expert demonstrations of {task.name} -> {data_dir}")
    record_expert(task.name, args.demos, data_dir, seed=args.seed, workers=args.workers, overwrite=True,
                  progress=progress)
    dataset = load_dataset(data_dir)
    say(f"2/3 training BC (mlp) on {len(dataset)} episodes, {dataset.num_steps} steps -> {ckpt_dir}")
    trained = train_bc(dataset, "mlp", None, TrainConfig(steps=args.steps, seed=args.seed), out=ckpt_dir,
                       progress=progress)
    say(f"3/3 evaluating expert and BC on {args.eval_episodes} held-out episodes")
    rows = {}
    for who, factory in (("expert", ExpertFactory(task.name)), ("BC (mlp)", CheckpointActorFactory(ckpt_dir))):
        rows[who] = evaluate(task, factory, args.eval_episodes, args.seed, workers=args.workers,
                             progress=progress).summary
    minutes = (time.perf_counter() - t0) / 60
    lines = [f"# Demo: {task.name}, {args.demos} demonstrations", "",
             f"Produced by `protege demo` (seed {args.seed}, {args.steps} BC steps) in {minutes:.1f} min; "
             f"{args.eval_episodes} evaluation episodes on seeds disjoint from the demonstrations.", "",
             "| policy | success | 95% Wilson interval | mean return | mean length |", "|---|---|---|---|---|"]
    for who, s in rows.items():
        lines.append(f"| {who} | {s.successes}/{s.episodes} ({100 * s.success_rate:.0f}%) | "
                     f"[{100 * s.ci_low:.0f}%, {100 * s.ci_high:.0f}%] | {s.mean_return:.1f} | {s.mean_length:.1f} |")
    table = "\n".join(lines) + "\n"
    say("\n" + "\n".join(lines[4:]))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(table)
    write_json_file(args.report.with_suffix(".json"),
                    {"task": task.name, "demos": args.demos, "steps": args.steps, "seed": args.seed,
                     "minutes": minutes, "best_val_loss": trained.best_val_loss,
                     "results": {k: v.to_dict() for k, v in rows.items()}})
    say(f"\nwrote {args.report} ({minutes:.1f} min)")
    return 0
