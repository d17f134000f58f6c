"""A stochastic policy's rollouts are a function of the episode seed, not of what ran before."""

import torch

from protege.checkpoint import PolicyActor
from protege.envs import get_task
from protege.evaluation.rollout import run_episodes
from protege.policies import make_policy
from protege.policies.gmm import GMMConfig


def test_sampling_policy_rollouts_repeat_per_episode_seed():
    task = get_task("bimodal")
    torch.manual_seed(0)
    policy = make_policy("gmm", GMMConfig(hidden_dims=(16,), sample="full", hold_draw=False), task.spec, None)

    def actions(seeds):
        results = run_episodes(task, lambda: PolicyActor(policy), seeds, keep_episodes=True)
        return {r.seed: r.episode.actions for r in results}

    first = actions([5, 6])
    torch.rand(1000)  # whatever else used torch's generator in between
    again = actions([6, 5])  # other order: each episode still gets its own stream
    for seed in (5, 6):
        assert (first[seed] == again[seed]).all()
    assert not (first[5][:5] == first[6][:5]).all()  # and different seeds do sample differently
