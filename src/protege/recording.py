"""Recording demonstrations from a task's scripted expert into a native dataset.

Each episode is written as soon as it finishes (atomically), so killing a recording loses at most the
episode in progress. Interactive recording with a person lives in `teleop/`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from protege.data.episode import SOURCE_EXPERT
from protege.data.native import DatasetWriter
from protege.envs import ExpertFactory, get_task
from protege.errors import ProtegeError
from protege.evaluation.rollout import EpisodeResult, record_seeds, run_episodes
from protege.progress import Progress


def record_expert(task_name: str, episodes: int, out: str | Path, seed: int = 0, noise: float = 0.0, workers: int = 1,
           only_successes: bool = False, overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Run the task's expert for `episodes` episodes and write them to `out` (one atomic file each)."""
    if episodes < 1:
        raise ProtegeError(f"--episodes: expected >= 1, found {episodes}")
    if noise < 0:
        raise ProtegeError(f"--noise: expected >= 0, found {noise}")
    task = get_task(task_name)
    seeds = record_seeds(seed, episodes)
    provenance = {"command": shlex.join(["protege", *sys.argv[1:]]) if sys.argv else None,
                  "expert": task.name, "seed": seed, "noise": noise, "episode_seeds": seeds}
    with DatasetWriter(out, task.spec, task=task.name, provenance=provenance, overwrite=overwrite) as writer:
        def keep(r: EpisodeResult) -> None:
            if r.episode is not None and (r.success or not only_successes):
                writer.add(r.episode)

        run_episodes(task, ExpertFactory(task.name), seeds, noise=noise, keep_episodes=True, workers=workers,
                     progress=progress, desc=f"record {task.name}", on_result=keep, source=SOURCE_EXPERT)
    return Path(out)
