"""A BC learner trained briefly on `lane` demonstrations: it errs at about the glare rate on the expert's
states, and once off-centre it never comes back, so its cost grows faster than linearly in the horizon.

Glare 0.02 (not the benchmark's 0.001) so a few thousand short episodes show it in seconds. With an error
rate eps ~ 0.02 per step and no recovery, J(T) = sum_t 1 - (1 - eps)^t: J(80) / J(20) ~ 11.6 (a linear cost
would give 4, eps T^2 without saturation 16). Over seeds 0-4 the ratio measured 10.5-10.9 and eps 0.020-0.022;
the bars below leave room on both sides.
"""

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.controller import Controller
from protege.data.native import Dataset
from protege.envs import ExpertFactory, get_task
from protege.envs.lane import LaneBatch, LaneExpert, batch_rollout
from protege.evaluation.rollout import run_episodes
from protege.policies.mlp import MLPConfig

GLARE = 0.02


def _bc(seed: int):
    task = get_task(f"lane[T=200,glare={GLARE}]")
    demos = run_episodes(task, ExpertFactory(task.name), [seed * 100 + i for i in range(3)], keep_episodes=True)
    data = Dataset([r.episode for r in demos], task.spec)
    result = train_bc(data, "mlp", MLPConfig(hidden_dims=(32, 32)),
                      TrainConfig(steps=400, batch_size=128, eval_every=400, val_fraction=0.0, seed=seed, threads=1))
    return result.policy.eval()


def _act(policy):
    return Controller(policy.execution_settings(), policy.predict_numpy, policy.obs_keys).act


@pytest.mark.parametrize("seed", [0])
def test_bc_errs_at_the_glare_rate_and_never_recovers(seed):
    policy = _bc(seed)
    with torch.inference_mode():
        # eps on the expert's own states
        env, expert, wrong, n = LaneBatch(range(10_000, 10_100), 200, GLARE), LaneExpert(), 0, 0
        for _ in range(200):
            obs = env.observation()
            a = expert.act(obs)
            wrong += int((np.rint(policy.predict_numpy({"state": obs["state"][:, None]}, None)[:, 0]) != np.rint(a)).sum())
            n += len(a)
            env.step(a)
        eps = wrong / n
        assert 0.5 * GLARE < eps < 2 * GLARE, eps
        costs = {T: batch_rollout(_act(policy), range(20_000 + 10_000 * T, 21_000 + 10_000 * T), T, GLARE) for T in (20, 80)}
    for c in costs.values():  # off-centre once, off-centre for good: each cost row is 0...0 1...1
        assert (np.diff(c, axis=1) >= 0).all()
    ratio = costs[80].sum(1).mean() / costs[20].sum(1).mean()
    assert ratio > 8, ratio  # linear growth would give 4
