"""An expert a user points at (`--expert PATH` on record, dagger and eval): a policy file instead of the
task's own expert.

Two kinds of file act as an expert:
- a protege checkpoint folder (`config.json` + `model.safetensors`), executed through the one controller
  like any trained policy (`checkpoint.load_actor`);
- a Gaussian-MLP policy in the hand_dapg layout (`<name>.json` + `<name>.safetensors`, as in
  docs/adroit.md; `experts/hand_dapg.py`), acting with its mean on the `state` observation.

Either is checked against the task's observation and action sizes before any episode runs, and any
other path is refused in one line naming it. `ExpertFileFactory` carries the path to worker processes.
This module does not decide which expert a command uses: `expert_factory` maps the option's value
("scripted"/None: the task's own) to a factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from protege.envs.registry import ExpertFactory, get_task
from protege.envs.task import Task
from protege.errors import ProtegeError

SCRIPTED = "scripted"
"""`--expert scripted` (or no --expert): the task's own expert."""


def expert_file_kind(path: str | Path) -> str:
    """'checkpoint' or 'hand_dapg' for a path that holds one; a one-line error otherwise."""
    p = Path(path)
    if p.is_dir():
        if (p / "config.json").is_file():
            return "checkpoint"
        raise ProtegeError(f"--expert {path}: expected a protege checkpoint folder (config.json + "
                           f"model.safetensors), found a folder without config.json")
    prefix = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    if prefix.with_suffix(".json").is_file() or prefix.with_suffix(".safetensors").is_file():
        return "hand_dapg"
    raise ProtegeError(f"--expert {path}: expected a checkpoint folder or a policy file (<name>.json + "
                       f"<name>.safetensors), found no such file or folder")


def load_expert_file(path: str | Path, task: Task) -> Any:
    """The policy at `path` as an Actor for `task` (see the module docstring); refused in one line when
    the file is missing, is not a policy, or does not fit the task's observation and action sizes."""
    kind = expert_file_kind(path)
    if kind == "checkpoint":
        from protege.checkpoint import load_actor

        # a conditioned checkpoint labels as the run's task (an unconditioned one ignores it)
        return load_actor(path, task.spec, f"task {task.name}", task=task.name)
    from protege.experts.hand_dapg import HandDapgExpert, check_expert_matches

    if "state" not in task.spec.observation:
        raise ProtegeError(f"--expert {path}: expected a task with a 'state' observation for an MLP policy file, "
                           f"found {task.name} with {sorted(task.spec.observation)}")
    low, high = task.spec.action.low, task.spec.action.high  # the env would clip to these anyway
    expert = HandDapgExpert(path, low=None if low is None else np.asarray(low, np.float32),
                            high=None if high is None else np.asarray(high, np.float32))
    check_expert_matches(expert, int(task.spec.observation["state"].shape[0]), int(task.spec.action.shape[0]),
                         task.name)
    return expert


class ExpertFileFactory:
    """A picklable factory (for worker processes) of the expert at `path` for the task named."""

    def __init__(self, path: str | Path, task_name: str):
        self.path, self.task_name = str(path), task_name

    def __call__(self) -> Any:
        return load_expert_file(self.path, get_task(self.task_name))


def expert_factory(task_name: str, expert: str | Path | None = None) -> Any:
    """A factory of the expert a command was given: the task's own for None or "scripted", else the policy
    at that path (checked now, so a bad file fails before any work)."""
    if expert is None or str(expert) == SCRIPTED:
        return ExpertFactory(task_name)
    factory = ExpertFileFactory(expert, task_name)
    factory()  # load once here: a missing or misfit file is refused before anything is written
    return factory
