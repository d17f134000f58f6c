"""Task tags of episodes: which task each episode shows, balanced sampling across tasks, per-task groups.

A multi-task dataset tags each episode with `info["task"]` (and `info["instruction"]`; see
`recording.record_tasks`; LeRobot's `task` lands there too). Training asks this module for the sampling
probability of every step, so each task is drawn equally often (times its weight) however many steps its
demonstrations have, and for the validation episodes grouped by task, for a per-task validation loss.
It knows nothing of policies or conditioning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from protege.errors import bad_input


def task_of(episode: Any) -> str | None:
    """The episode's task tag, or None when it has none."""
    task = episode.info.get("task")
    return task if isinstance(task, str) and task else None


def tasks_of(episodes: list[Any]) -> list[str]:
    """The distinct task tags of `episodes`, in order of first appearance (untagged episodes left out)."""
    seen: dict[str, None] = {}
    for e in episodes:
        t = task_of(e)
        if t is not None:
            seen.setdefault(t)
    return list(seen)


def step_probabilities(episodes: list[Any], weights: dict[str, float] | None = None) -> np.ndarray:
    """(N,) probability of drawing each step of `episodes` (concatenated in order) so that every task is
    drawn in proportion to `weights[task]` (1 where not given) whatever its number of steps; steps within a
    task equally likely. Untagged episodes count as one task named "". A weight for a task the episodes do
    not show, or a negative or all-zero weight, is refused in one line."""
    weights = dict(weights or {})
    tasks = [task_of(e) or "" for e in episodes]
    known = set(tasks)
    for name, w in weights.items():
        if name not in known:
            raise bad_input("train config", f"task_weights.{name}", f"a task of the dataset {sorted(known)}", "no such task")
        if not w >= 0:
            raise bad_input("train config", f"task_weights.{name}", ">= 0", w)
    steps = {t: 0 for t in known}
    for t, e in zip(tasks, episodes):
        steps[t] += len(e)
    share = {t: float(weights.get(t, 1.0)) for t in known}
    total = sum(share.values())
    if total <= 0:
        raise bad_input("train config", "task_weights", "at least one task with a weight > 0", weights)
    per_step = np.concatenate([np.full(len(e), share[t] / total / steps[t]) for t, e in zip(tasks, episodes)])
    return per_step / per_step.sum()


def group_by_task(episodes: list[Any]) -> dict[str, list[Any]]:
    """Episodes grouped by task tag (in order of first appearance); untagged ones under ""."""
    out: dict[str, list[Any]] = {}
    for e in episodes:
        out.setdefault(task_of(e) or "", []).append(e)
    return out
