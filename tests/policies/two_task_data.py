"""The two-task toy the conditioning tests share: same observations, only the task (or its instruction)
says the sign of the action (+-0.8 on dim 0)."""

import numpy as np

from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.specs import ArraySpec, Spec

SPEC = Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((2,), low=[-1.0, -1.0], high=[1.0, 1.0]), fps=10.0)
TASKS = {"go-left": "move to the left", "go-right": "move to the right"}


def two_task_dataset(episodes_per_task=6, T=20, seed=0, tasks=TASKS):
    """`tasks`: task name -> instruction; "go-left" acts with -0.8, any other task with +0.8."""
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(episodes_per_task):
        for task, instruction in tasks.items():
            sign = -1.0 if task == "go-left" else 1.0
            obs = rng.uniform(-1, 1, (T, 2)).astype(np.float32)
            act = np.stack([np.full(T, 0.8 * sign), 0.5 * obs[:, 1]], -1).astype(np.float32)
            eps.append(Episode(observations={"state": obs}, actions=act, success=True,
                               info={"seed": i, "task": task, "instruction": instruction}))
    return Dataset(eps, SPEC, {"task": ",".join(tasks)})
