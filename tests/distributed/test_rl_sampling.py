"""RL/DAPG sampling: the same episodes (observations, sampled actions, returns) in this process and on
worker processes; each episode's exploration noise is its own, whatever shared its batch."""

import numpy as np
import pytest
import torch

from protege.algos.rl.rollout import VecSampler
from protege.distributed.executor import ProcessExecutor
from protege.envs import get_task
from protege.policies import make_policy
from protege.policies.gaussian import GaussianConfig


def _policy(task):
    torch.manual_seed(0)
    return make_policy("gaussian", GaussianConfig(hidden_dims=(16,)), task.spec, None)


def _same(a, b):
    for f in ("obs", "actions", "rewards", "episode", "t", "returns", "success", "seeds", "last_obs"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_an_episode_does_not_depend_on_its_shard_neighbours():
    task = get_task("pendulum")
    policy, seeds = _policy(task), [11, 12, 13, 14]
    sampler = VecSampler(task, 4)
    try:
        together = sampler.sample(policy, seeds, torch.Generator().manual_seed(5))
        alone = VecSampler(task, 1).sample(policy, [13], torch.Generator().manual_seed(5))
    finally:
        sampler.close()
    e = together.episode == 2
    assert np.allclose(together.actions[e], alone.actions, atol=1e-5)  # batch of 4 vs 1: the same noise
    assert not np.allclose(together.actions[together.episode == 0][:20], alone.actions[:20])


@pytest.mark.slow  # a worker pool that imports the simulators
def test_worker_processes_sample_the_episodes_this_process_samples():
    task = get_task("pendulum")
    policy, seeds = _policy(task), list(range(100, 107))
    sampler = VecSampler(task, 3)
    try:
        here = sampler.sample(policy, seeds, torch.Generator().manual_seed(1))
        with ProcessExecutor(2) as ex:
            there = sampler.sample(policy, seeds, torch.Generator().manual_seed(1), executor=ex)
    finally:
        sampler.close()
    _same(here, there)
