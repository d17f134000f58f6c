"""Evaluate one actor (or one per task) on every task of a set: a per-task table plus the mean.

Each task runs on its own held-out seeds (`rollout.eval_seeds`, disjoint from recording seeds) through the
one `evaluate` path, so a multi-task number is exactly the single-task numbers put side by side. The mean
is over tasks; with the same episode count per task it equals the pooled success rate, whose 95% Wilson
interval (over all episodes) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from protege.envs import get_task
from protege.evaluation.evaluate import EvalResult, evaluate
from protege.evaluation.metrics import EvalSummary, summarize
from protege.evaluation.rollout import ActorFactory
from protege.progress import Progress


@dataclass
class MultiTaskResult:
    per_task: dict[str, EvalResult] = field(default_factory=dict)

    @property
    def mean(self) -> EvalSummary:
        """Pooled over every task's episodes (the mean over tasks when each ran as many episodes)."""
        rs = [r for res in self.per_task.values() for r in res.results]
        return summarize([r.success for r in rs], [r.ret for r in rs], [r.length for r in rs])

    @property
    def mean_success(self) -> float:
        """Unweighted mean of the per-task success rates."""
        rates = [res.summary.success_rate for res in self.per_task.values()]
        return sum(rates) / max(len(rates), 1)

    def table(self) -> str:
        """A plain-text table: one line per task, then the mean."""
        width = max([len(t) for t in self.per_task] + [4])
        lines = [f"{'task':<{width}}  success        episodes"]
        for name, res in self.per_task.items():
            s = res.summary
            lines.append(f"{name:<{width}}  {s.format():<13}  {s.successes}/{s.episodes}")
        m = self.mean
        lines.append(f"{'mean':<{width}}  {100 * self.mean_success:.1f}% [{100 * m.ci_low:.0f}, {100 * m.ci_high:.0f}]  "
                     f"{m.successes}/{m.episodes}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"mean_success": self.mean_success, "mean": self.mean.to_dict(),
                "per_task": {k: v.to_dict() for k, v in self.per_task.items()}}


def evaluate_tasks(tasks: list[str], make_actor: Callable[[str], ActorFactory], episodes: int = 50, seed: int = 0,
                   workers: int = 1, training_seeds: Callable[[str], list[int]] | None = None,
                   allow_seed_overlap: bool = False, progress: Progress | None = None,
                   who: str = "the evaluated actor") -> MultiTaskResult:
    """Run `episodes` episodes of each task in `tasks` with the actor `make_actor(task_name)` builds
    (e.g. one checkpoint conditioned on that task). training_seeds(task): the seeds its training data used."""
    out = MultiTaskResult()
    for name in tasks:
        task = get_task(name)
        out.per_task[name] = evaluate(task, make_actor(name), episodes, seed, workers,
                                      training_seeds=training_seeds(name) if training_seeds else None,
                                      allow_seed_overlap=allow_seed_overlap, progress=progress,
                                      who=f"{who} on {name}")
    return out
