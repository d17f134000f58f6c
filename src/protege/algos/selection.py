"""Choosing which weights of a training run to keep by how often they succeed in the task.

The validation loss ranks weights by how closely they copy held-out demonstrations, which is not what a
user wants of a policy, and with few demonstrations it rests on one or two episodes. robomimic's answer,
rolling the policy out every so often and keeping the weights with the best success rate, is what
`RolloutScorer` does for `train_bc` (`TrainConfig.rollout_every`).

Rollouts use their own block of episode seeds (`selection_seeds`), disjoint from the seeds recordings use
and from `protege eval`'s, so the weights a run keeps were never chosen on the episodes they are later
evaluated on. Rolling out does not change training: the random states the loop draws from are restored
afterwards, so the weights at every step are those of a run without rollouts.
"""

from __future__ import annotations

import contextlib
import copy
import random
from typing import Iterator

import numpy as np
import torch

from protege.checkpoint import PolicyActor
from protege.envs import get_task
from protege.evaluation.evaluate import evaluate
from protege.policies import PolicyBase
from protege.specs import check_compatible

SELECT_SEED_OFFSET = 2_000_000
"""Rollout seeds start here: above the recording seeds (< 1,000,000) and `protege eval`'s block."""


def selection_seeds(n: int) -> list[int]:
    """Episode seeds of the `n` rollouts that score weights during training."""
    return [SELECT_SEED_OFFSET + i for i in range(n)]


@contextlib.contextmanager
def _random_states_kept() -> Iterator[None]:
    """Run the block without moving the global random generators training draws from (torch's CPU and
    CUDA generators, numpy's, Python's)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


class RolloutScorer:
    """Scores a policy by its success rate in `episodes` rollouts of `task_name` (seeds `selection_seeds`).

    The policy is copied to the CPU and rolled out in this process, so the training copy keeps its device,
    mode and any execution state (action queues) it had.
    """

    def __init__(self, task_name: str, episodes: int, spec, where: str = "dataset"):
        self.task = get_task(task_name)
        check_compatible(spec, self.task.spec, where, f"--rollout-task {task_name}")
        self.episodes = episodes
        self.seeds = selection_seeds(episodes)

    def __call__(self, policy: PolicyBase) -> float:
        actor_policy = copy.deepcopy(policy).cpu().eval()
        task = self.task.name if actor_policy.conditioning is not None else None
        with _random_states_kept(), torch.inference_mode():
            result = evaluate(self.task, lambda: PolicyActor(actor_policy, task=task, who="the policy in training"),
                              len(self.seeds), seeds=self.seeds, workers=1)
        return result.summary.success_rate
